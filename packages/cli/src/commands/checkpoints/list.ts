import type { Id } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";
import { metrics, summary, table } from "./format.js";

/** `trainable checkpoints list`: the workspace's instances with checkpoints. */
async function listInstances(c: CliContext): Promise<void> {
  const store = await c.store();
  const ids = await store.listInstances();
  c.print(
    ids.map((instance) => ({ instance })),
    () => {
      if (ids.length === 0) return `no instances with checkpoints in ${c.remote}`;
      return table([["INSTANCE"], ...ids.map((id) => [id])]);
    },
  );
}

/** `trainable checkpoints list [--instance <id>]`. */
export function registerList(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("list")
    .description(
      "list the handles of an instance with their checkpoints (without --instance: the instances that have checkpoints)",
    )
    .option("--instance <id>", "plugin instance id", idFlag("--instance"))
    .action(async (o: { instance?: Id }) => {
      const c = ctx();
      if (o.instance === undefined) return listInstances(c);
      const instance = o.instance;
      const store = await c.store();
      const refs = await store.list({ pluginInstanceId: instance });
      c.print(refs.map(summary), () => {
        if (refs.length === 0) return `no checkpoints for instance "${instance}" in ${c.remote}`;
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
