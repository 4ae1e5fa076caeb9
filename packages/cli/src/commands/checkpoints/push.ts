import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { Id, ValidationError } from "@trainable/core";
import type { Command } from "commander";
import { z } from "zod";
import type { CliContext } from "../../context.js";
import { parseFlags } from "../../parse-flags.js";
import { heldBy } from "../../pull-into-folder.js";
import { plural, summary } from "./format.js";

const PushFlags = z.object({
  instance: Id,
  handle: Id,
  dir: z.string().min(1),
  default: z.boolean(),
});

/** `trainable checkpoints push <dir> --instance <id> --handle <name> [--no-default]`. */
export function registerPush(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("push")
    .description("save a folder as a checkpoint (verified as a training save is), and move default")
    .argument("<dir>", "the model folder to save")
    .requiredOption("--instance <id>", "plugin instance id")
    .requiredOption("--handle <name>", "checkpoint handle to save to")
    .option("--no-default", "do not move the default handle to the new checkpoint")
    .action(async (dir: string, o: { instance: string; handle: string; default: boolean }) => {
      const c = ctx();
      const flags = parseFlags(PushFlags, { ...o, dir }, { dir: "<dir>" });
      const folder = isAbsolute(flags.dir) ? flags.dir : resolve(c.io.cwd, flags.dir);
      const info = await stat(folder).catch(() => undefined);
      if (!info?.isDirectory()) {
        throw ValidationError.forField("cli", "<dir>", `no folder at ${folder}`);
      }
      const held = await heldBy(folder, c.localStatePaths());
      if (held) {
        throw ValidationError.forField(
          "cli",
          "<dir>",
          `${folder} holds ${held.what} at ${held.path}: pushing it would store that too; push the model folder itself`,
        );
      }
      const store = await c.store();
      const { ref, defaultRef, uploadedBytes } = await store.save({
        pluginInstanceId: flags.instance,
        handle: flags.handle,
        folder,
        setAsDefault: flags.default,
      });
      c.print(
        { ...summary(ref), default: defaultRef !== undefined, uploadedBytes, path: folder },
        () =>
          `pushed ${folder} as ${ref.handle}${defaultRef ? " (default)" : ""}: ${ref.digest.slice(0, 19)}…, ${plural(ref.fileCount, "file")}, ${uploadedBytes} bytes uploaded`,
      );
    });
}
