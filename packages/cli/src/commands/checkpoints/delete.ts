import type { Id } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";

/** `trainable checkpoints delete --instance <id> --handle <name>`. */
export function registerDelete(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("delete")
    .description("delete a handle (its blob stays while another handle points at it)")
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .requiredOption("--handle <name>", "checkpoint handle", idFlag("--handle"))
    .action(async (o: { instance: Id; handle: Id }) => {
      const c = ctx();
      const store = await c.store();
      await store.delete({ pluginInstanceId: o.instance, handle: o.handle });
      c.print({ deleted: o.handle }, () => `deleted handle ${o.handle}`);
    });
}
