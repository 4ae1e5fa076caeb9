import type { CheckpointRef } from "@trainable/core";
import type { VerifyResult } from "@trainable/storage";
import { userMessage } from "../../user-error.js";

/** A checkpoint's ref as the JSON output of `list`, `push` and `pull` shows it. */
export function summary(ref: CheckpointRef) {
  return {
    handle: ref.handle,
    digest: ref.digest,
    size: ref.size,
    files: ref.fileCount,
    directories: ref.directoryCount,
    totalBytes: ref.totalBytes,
    createdAt: ref.createdAt,
    archivePath: ref.archivePath,
    trainingResults: ref.metadata.trainingResults,
  };
}

/** Rows as columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The first four numeric training results of a ref: `loss=0.1234 accuracy=0.9`. */
export function metrics(ref: CheckpointRef): string {
  const r = ref.metadata.trainingResults ?? {};
  return Object.entries(r)
    .filter(([, v]) => typeof v === "number")
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Number((v as number).toFixed(4))}`)
    .join(" ");
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `checkpoints verify`'s human output: a line per bad blob, then a summary. */
export function verifyReport(result: VerifyResult, repair: boolean, empty: string): string {
  if (result.checked === 0 && result.unreferenced === 0) return empty;
  const lines = result.bad.map((b) =>
    [
      `bad: ${b.archivePath}`,
      b.digest ?? "-",
      `handles: ${b.handles.join(", ") || "none"}`,
      b.quarantined ? "quarantined" : "not quarantined",
      userMessage(b.reason),
    ].join("  "),
  );
  const quarantined = result.bad.filter((b) => b.quarantined).length;
  lines.push(
    `checked ${plural(result.checked, "blob")} (${result.bytes} bytes verified): ${result.ok} ok, ` +
      `${result.bad.length} bad${result.bad.length ? ` (${quarantined} quarantined)` : ""}, ` +
      `${result.unreferenced} unreferenced`,
  );
  if (result.bad.length > quarantined && !repair) {
    lines.push("run with --repair to quarantine bad blobs so no save reuses them");
  }
  return lines.join("\n");
}
