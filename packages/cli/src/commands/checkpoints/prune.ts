import type { Id } from "@trainable/core";
import type { CheckpointStoreImpl } from "@trainable/storage";
import type { Command } from "commander";
import { type CliContext, parseIntFlag } from "../../context.js";
import { idFlag, idListFlag } from "../../id-flag.js";
import { fieldsAsFlags } from "../../parse-flags.js";

interface PruneFlags {
  instance: Id;
  keepLast?: string;
  keepBest?: string;
  metric?: string;
  min?: boolean;
  protect?: Id[];
  dryRun?: boolean;
  gcMinAgeMs: string;
}

/** `store.prune`, its errors naming the command's flags (`--keep-last`), not option fields. */
function pruneNamingFlags(
  store: CheckpointStoreImpl,
  options: Parameters<CheckpointStoreImpl["prune"]>[0],
): ReturnType<CheckpointStoreImpl["prune"]> {
  return store.prune(options).catch((error: unknown) => {
    throw fieldsAsFlags(error, {
      keepLast: "--keep-last",
      keepBest: "--keep-best",
      metric: "--metric",
      protect: "--protect",
    });
  });
}

/** `trainable checkpoints prune --instance <id> [--keep-last n] [--keep-best n --metric m] …`. */
export function registerPrune(cmd: Command, ctx: () => CliContext): void {
  cmd
    .command("prune")
    .description(
      "delete handles outside a retention policy (default is always kept), then collect unused blobs",
    )
    .requiredOption("--instance <id>", "plugin instance id", idFlag("--instance"))
    .option("--keep-last <n>", "keep the N newest checkpoints")
    .option("--keep-best <n>", "keep the N best checkpoints by --metric")
    .option("--metric <name>", "metric in trainingResults for --keep-best")
    .option("--min", "lower metric is better (default: higher)")
    .option("--protect <handles>", "comma-separated handles never deleted", idListFlag("--protect"))
    .option("--dry-run", "only report what would be deleted")
    .option(
      "--gc-min-age-ms <ms>",
      "collect unused blobs older than this (younger ones may belong to a save in progress)",
      "3600000",
    )
    .action(async (o: PruneFlags) => {
      const c = ctx();
      const store = await c.store();
      const pluginInstanceId = o.instance;
      const result = await pruneNamingFlags(store, {
        pluginInstanceId,
        keepLast: o.keepLast === undefined ? undefined : parseIntFlag(o.keepLast, "--keep-last"),
        keepBest: o.keepBest === undefined ? undefined : parseIntFlag(o.keepBest, "--keep-best"),
        metric: o.metric,
        mode: o.min ? "min" : "max",
        protect: o.protect,
        dryRun: o.dryRun,
      });
      const gc = o.dryRun
        ? undefined
        : await store.gc({
            pluginInstanceId,
            minAgeMs: parseIntFlag(o.gcMinAgeMs, "--gc-min-age-ms"),
          });
      c.print({ ...result, gc }, () =>
        [
          `${o.dryRun ? "would delete" : "deleted"}: ${result.deleted.join(", ") || "nothing"}`,
          `kept: ${result.kept.join(", ") || "nothing"}`,
          ...(gc ? [`blobs freed: ${gc.deleted.length} (${gc.bytesFreed} bytes)`] : []),
        ].join("\n"),
      );
    });
}
