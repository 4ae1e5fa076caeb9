import type { Task } from "../../src/dashboard/api-types.js";

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function date(iso: string | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export const shortDigest = (digest: string | null | undefined) =>
  digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "–";

export function metric(value: number | undefined): string {
  if (value === undefined) return "–";
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

/** The task's progress in percent, when it says (`fraction`); 100 once it succeeded. */
export function percent(task: Task): number | undefined {
  if (task.state === "succeeded") return 100;
  const fraction = task.progress?.fraction;
  if (typeof fraction !== "number" || !Number.isFinite(fraction)) return undefined;
  return Math.round(Math.max(0, Math.min(1, fraction)) * 100);
}

export const isActive = (task: Task) => task.state === "waiting" || task.state === "running";

/**
 * The metrics a training posted per epoch: for each post-update with
 * `trainingProgress.epoch`, its numeric `trainingResults` (the last value of each epoch).
 */
export function epochMetrics(task: Task): { epochs: number[]; series: Record<string, number[]> } {
  const byEpoch = new Map<number, Record<string, number>>();
  for (const { update } of task.updates) {
    const output = ("output" in update ? update.output : update) as
      | { trainingProgress?: Record<string, unknown>; trainingResults?: Record<string, unknown> }
      | undefined;
    const epoch = output?.trainingProgress?.epoch ?? output?.trainingResults?.epoch;
    if (typeof epoch !== "number") continue;
    for (const [key, value] of Object.entries(output?.trainingResults ?? {})) {
      if (key === "epoch" || typeof value !== "number" || !Number.isFinite(value)) continue;
      byEpoch.set(epoch, { ...byEpoch.get(epoch), [key]: value });
    }
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  const names = new Set(epochs.flatMap((e) => Object.keys(byEpoch.get(e) ?? {})));
  const series: Record<string, number[]> = {};
  for (const name of names) series[name] = epochs.map((e) => byEpoch.get(e)?.[name] ?? Number.NaN);
  return { epochs, series };
}

/** What a training is doing when it posted no message: its stage and epoch. */
export function progressText(task: Task): string {
  const p = task.progress ?? {};
  const parts: string[] = [];
  if (typeof p.stage === "string") parts.push(p.stage);
  if (typeof p.epoch === "number" && typeof p.of === "number")
    parts.push(`epoch ${p.epoch} of ${p.of}`);
  return parts.join(", ");
}

const FIRST = ["f1", "accuracy", "precision", "recall", "auc", "loss"];

/** Metric names, the usual ones first, then the others alphabetically. */
export function orderMetrics(names: Iterable<string>): string[] {
  const rank = (n: string) => (FIRST.includes(n) ? FIRST.indexOf(n) : FIRST.length);
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
