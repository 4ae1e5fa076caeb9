import type { Id } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";
import { metrics, summary, table } from "./format.js";

/** `trainable checkpoints list --instance <id>`. */
export function registerList(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("list")
    .description("list the handles of an instance with their checkpoints")
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .action(async (o: { instance: Id }) => {
      const c = ctx();
      const store = await c.store();
      const refs = await store.list({ pluginInstanceId: o.instance });
      c.print(refs.map(summary), () => {
        if (refs.length === 0) return `no checkpoints for instance "${o.instance}" in ${c.remote}`;
        return table([
          ["HANDLE", "DIGEST", "SIZE", "CREATED", "METRICS"],
          ...refs.map((r) => [
            r.handle,
            r.digest.slice(7, 19),
            String(r.size),
            r.createdAt,
            metrics(r),
          ]),
        ]);
      });
    });
}
