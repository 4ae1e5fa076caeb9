import type { Id } from "@trainable/core";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { idFlag } from "../../id-flag.js";
import { verifyReport } from "./format.js";

/** `trainable checkpoints verify --instance <id> [--repair]` (exit 1 when a blob is bad). */
export function registerVerify(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("verify")
    .description(
      "re-hash every stored blob of an instance against its manifest; --repair quarantines bad ones (exit 1 when any is bad)",
    )
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .option("--repair", "quarantine bad blobs so no save reuses them (their handles stay broken)")
    .action(async (o: { instance: Id; repair?: boolean }) => {
      const c = ctx();
      const pluginInstanceId = o.instance;
      const repair = o.repair ?? false;
      const store = await c.store();
      const result = await store.verify({
        pluginInstanceId,
        repair,
        onProgress: c.progress.verify,
      });
      c.print(result, () =>
        verifyReport(
          result,
          repair,
          `no stored blobs for instance "${pluginInstanceId}" in ${c.remote}`,
        ),
      );
      // Bad blobs are lost data, also once quarantined: the command fails.
      if (result.bad.length > 0) c.exitCode = 1;
    });
}
