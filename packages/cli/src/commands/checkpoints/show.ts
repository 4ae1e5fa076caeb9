import { DEFAULT_HANDLE, type Id } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";

/** `trainable checkpoints show --instance <id> [--handle <name>]`. */
export function registerShow(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("show")
    .description("show one checkpoint's ref and manifest (files, directories, metadata, digest)")
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .option("--handle <name>", "checkpoint handle", idFlag("--handle"), DEFAULT_HANDLE as Id)
    .action(async (o: { instance: Id; handle: Id }) => {
      const c = ctx();
      const store = await c.store();
      const pluginInstanceId = o.instance;
      const ref = await store.resolve({ pluginInstanceId, handle: o.handle });
      const { files, directories } = await store.readManifest({ pluginInstanceId, ref });
      c.print({ ...ref, files, directories }, () =>
        [
          `handle:      ${ref.handle}`,
          `digest:      ${ref.digest}`,
          `archive:     ${ref.archivePath} (${ref.size} bytes, ${ref.compression})`,
          `manifest:    ${ref.manifestSize} bytes`,
          `created:     ${ref.createdAt}`,
          `parent:      ${ref.parent ?? "-"}`,
          `metadata:    ${JSON.stringify(ref.metadata)}`,
          `files (${ref.fileCount}, ${ref.totalBytes} bytes):`,
          ...files.slice(0, 50).map((f) => `  ${f.path}  ${f.size}  ${f.sha256.slice(0, 12)}`),
          ...(files.length > 50 ? [`  … ${files.length - 50} more`] : []),
          ...(directories.length > 0
            ? [
                `directories (${ref.directoryCount}):`,
                ...directories.slice(0, 50).map((d) => `  ${d}/`),
                ...(directories.length > 50 ? [`  … ${directories.length - 50} more`] : []),
              ]
            : []),
        ].join("\n"),
      );
    });
}
