import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** One row of docs/reliability.md: a case, how it is tested, the trials run and the outcome. */
export interface ReliabilityCase {
  area:
    | "crash safety"
    | "concurrency"
    | "corruption"
    | "hostile archives"
    | "hostile requests"
    | "remote faults"
    | "scope isolation";
  case: string;
  /** How it is tested, in a sentence. */
  method: string;
  backend?: "file" | "s3" | "memory" | "http" | "cli" | "disk cache";
  trials: number;
  /** What was observed, e.g. "every handle resolved to a complete checkpoint". */
  outcome: string;
  passed: boolean;
}

export const RESULTS_FILE = join(import.meta.dirname, "..", ".results", "cases.jsonl");

/** Full trial counts with `pnpm test:reliability` (TRAINABLE_RELIABILITY_FULL=1), smaller in CI. */
export const FULL = process.env.TRAINABLE_RELIABILITY_FULL === "1";

export function trials(ci: number, full: number): number {
  return FULL ? full : ci;
}

/** Records a case's outcome; scripts/write-report.mjs turns the file into docs/reliability.md. */
export function recordCase(row: ReliabilityCase): void {
  mkdirSync(join(RESULTS_FILE, ".."), { recursive: true });
  appendFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ ...row, at: new Date().toISOString(), full: FULL })}\n`,
  );
}
