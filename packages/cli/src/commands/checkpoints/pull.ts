import { isAbsolute, resolve } from "node:path";
import { DEFAULT_HANDLE, Id, ValidationError } from "@trainable/core";
import type { Command } from "commander";
import { z } from "zod";
import type { CliContext } from "../../context.js";
import { parseFlags } from "../../parse-flags.js";
import { pullIntoFolder } from "../../pull-into-folder.js";
import { plural, summary } from "./format.js";

const PullFlags = z.object({
  instance: Id,
  handle: Id,
  dir: z.string().min(1),
  force: z.boolean().optional(),
});

/** `trainable checkpoints pull [dir] --instance <id> [--handle <name>] [--out <dir>] [--force]`. */
export function registerPull(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("pull")
    .description("download and verify a checkpoint into a folder (new or empty; --force replaces)")
    .argument("[dir]", "folder to pull into: created when missing, else it must be empty")
    .requiredOption("--instance <id>", "plugin instance id")
    .option("--handle <name>", "checkpoint handle", DEFAULT_HANDLE)
    .option("--out <dir>", "the folder, as a flag (same as [dir])")
    .option("--force", "replace the contents of a non-empty folder")
    .action(
      async (
        dir: string | undefined,
        o: { instance: string; handle: string; out?: string; force?: boolean },
      ) => {
        const c = ctx();
        if ((dir === undefined) === (o.out === undefined)) {
          throw ValidationError.forField("cli", "<dir>", "give the folder once: as [dir] or --out");
        }
        const flag = dir === undefined ? "--out" : "<dir>";
        const flags = parseFlags(PullFlags, { ...o, dir: dir ?? o.out }, { dir: flag });
        const store = await c.store();
        const target = isAbsolute(flags.dir) ? flags.dir : resolve(c.io.cwd, flags.dir);
        const ref = await pullIntoFolder(store, {
          pluginInstanceId: flags.instance,
          handle: flags.handle,
          target,
          force: flags.force,
          flag,
          keep: c.localStatePaths(),
          cwd: c.io.cwd,
        });
        c.print(
          { ...summary(ref), path: target },
          () =>
            `pulled ${ref.handle} (${ref.digest.slice(0, 19)}…, ${plural(ref.fileCount, "file")}) into ${target}`,
        );
      },
    );
}
