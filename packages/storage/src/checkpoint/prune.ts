import { type CheckpointRef, DEFAULT_HANDLE, ValidationError, validateId } from "@trainable/core";

export interface PruneOptions {
  pluginInstanceId: string;
  /** Keep the N most recently created checkpoints. */
  keepLast?: number;
  /** Keep the N best checkpoints by `metric` in `metadata.trainingResults`. */
  keepBest?: number;
  /** The metric for `keepBest`, e.g. `f1`. */
  metric?: string;
  /** Whether a higher (`max`, default) or lower (`min`) metric is better. */
  mode?: "max" | "min";
  /** Handles never deleted, besides `default` which always is protected. */
  protect?: string[];
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface PruneResult {
  kept: string[];
  deleted: string[];
  dryRun: boolean;
}

function count(value: number | undefined, field: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0) {
    throw ValidationError.forField("storage", field, "must be an integer >= 0");
  }
  return value;
}

/** Decides which handles a retention policy keeps. Pure: no I/O. */
export function selectPrunable(
  refs: readonly CheckpointRef[],
  options: PruneOptions,
): { keep: CheckpointRef[]; remove: CheckpointRef[] } {
  const keepLast = count(options.keepLast, "keepLast");
  const keepBest = count(options.keepBest, "keepBest");
  if (options.keepLast === undefined && options.keepBest === undefined) {
    throw ValidationError.forField(
      "storage",
      "keepLast",
      "give keepLast and/or keepBest: pruning without a retention rule would delete every unprotected checkpoint",
    );
  }
  if (keepBest > 0 && !options.metric) {
    throw ValidationError.forField(
      "storage",
      "metric",
      "keepBest needs the name of a metric in trainingResults",
    );
  }
  const protect = new Set([
    DEFAULT_HANDLE,
    ...(options.protect ?? []).map((h) => validateId(h, "protect")),
  ]);
  const keep = new Set<string>();
  for (const ref of refs) if (protect.has(ref.handle)) keep.add(ref.handle);
  const candidates = refs.filter((r) => !protect.has(r.handle));

  const newest = [...candidates].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  for (const ref of newest.slice(0, keepLast)) keep.add(ref.handle);

  if (keepBest > 0) {
    const metric = options.metric as string;
    const sign = options.mode === "min" ? 1 : -1;
    const scored = candidates
      .map((ref) => ({ ref, value: ref.metadata.trainingResults?.[metric] }))
      .filter(
        (s): s is { ref: CheckpointRef; value: number } =>
          typeof s.value === "number" && Number.isFinite(s.value),
      )
      .sort((a, b) => sign * (a.value - b.value));
    for (const { ref } of scored.slice(0, keepBest)) keep.add(ref.handle);
  }
  return {
    keep: refs.filter((r) => keep.has(r.handle)),
    remove: refs.filter((r) => !keep.has(r.handle)),
  };
}
