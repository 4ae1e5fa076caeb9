import { isAbsolute, resolve } from "node:path";
import { Id } from "@trainable/core";
import type { Command } from "commander";
import { z } from "zod";
import type { CliContext } from "../../context.js";
import { withInterrupt } from "../../interrupt.js";
import { parseFlags } from "../../parse-flags.js";
import { exportSteamship } from "../../steamship/export-steamship.js";
import { importSteamship } from "../../steamship/import-steamship.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

const Format = z.literal("steamship", {
  error: 'the only layout supported is "steamship" (zips of the original TrainableModel)',
});

const ImportFlags = z.object({ from: Format, instance: Id, source: z.string().min(1) });
const ExportFlags = z.object({
  to: Format,
  instance: Id,
  dir: z.string().min(1),
  handle: z.array(Id).optional(),
  force: z.boolean().optional(),
});

/** `trainable checkpoints import|export`: the original's `{handle}.zip` + `default.zip` layout. */
export function registerSteamshipTransfer(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("import")
    .description(
      "import Steamship checkpoints: a folder or s3://bucket/prefix holding {handle}.zip files and default.zip",
    )
    .argument("<source>", "folder, or s3://bucket/prefix?endpoint=… (credentials: the AWS chain)")
    .requiredOption("--from <layout>", 'layout of the source: "steamship"')
    .requiredOption("--instance <id>", "plugin instance id to import into")
    .action(async (source: string, o: { from: string; instance: string }) => {
      const c = ctx();
      const flags = parseFlags(ImportFlags, { ...o, source }, { source: "<source>" });
      const store = await c.store();
      // Ctrl-C: all or nothing, as when a zip is refused (the handles written are put back).
      const result = await withInterrupt(
        c,
        {
          what: "the import",
          left: `handles already imported may be left: check them with "trainable checkpoints list --instance ${flags.instance}"`,
        },
        (signal) =>
          importSteamship({
            store,
            pluginInstanceId: flags.instance,
            source: flags.source,
            cwd: c.io.cwd,
            onMessage: (text) => c.progress.message(text),
            onProgress: c.progress.transfer,
            signal,
          }),
      );
      c.print(result, () =>
        [
          ...result.imported.map(
            (i) =>
              `${i.handle.padEnd(16)} ${i.digest.slice(0, 19)}…  from ${i.zip}${
                i.sameAs ? `  (same checkpoint as ${i.sameAs})` : ""
              }`,
          ),
          `imported ${result.imported.length} handle(s) into ${flags.instance}${
            result.skipped.length ? `; skipped (not .zip files): ${result.skipped.join(", ")}` : ""
          }`,
        ].join("\n"),
      );
    });

  cmd
    .command("export")
    .description(
      "export checkpoints as Steamship zips ({handle}.zip and default.zip, laid out as shutil.make_archive)",
    )
    .argument("<dir>", "folder to write the zips into (created when missing)")
    .requiredOption("--to <layout>", 'layout to write: "steamship"')
    .requiredOption("--instance <id>", "plugin instance id")
    .option(
      "--handle <name>",
      "a handle to export (repeatable; add --handle default for default.zip; default: every handle)",
      collect,
    )
    .option("--force", "replace zips that exist already")
    .action(async (dir: string, o: { to: string; instance: string; handle?: string[] }) => {
      const c = ctx();
      const flags = parseFlags(ExportFlags, { ...o, dir }, { dir: "<dir>" });
      const store = await c.store();
      const target = isAbsolute(flags.dir) ? flags.dir : resolve(c.io.cwd, flags.dir);
      const zips = await exportSteamship({
        store,
        pluginInstanceId: flags.instance,
        dir: target,
        handles: flags.handle,
        force: flags.force,
        onMessage: (text) => c.progress.message(text),
      });
      c.print({ dir: target, zips }, () =>
        [
          ...zips.map(
            (z) =>
              `${z.file.padEnd(20)} ${String(z.bytes).padStart(12)} bytes  ${z.digest.slice(0, 19)}…${
                z.copyOf ? `  (copy of ${z.copyOf})` : ""
              }`,
          ),
          `exported ${zips.length} zip(s) into ${target}`,
        ].join("\n"),
      );
    });
}
