import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import catalog from "./cases.json" with { type: "json" };

/**
 * One row of docs/reliability.md. The case's area and name come from `cases.json` (the list
 * of every case of the suite); a test records under the case's id, on one of its backends.
 */
export interface CaseRecord {
  /** An id of `cases.json`. */
  id: string;
  backend: "file" | "s3" | "memory" | "http" | "cli" | "redis";
  /** How it is tested, in a sentence (seeds and counts of this run included). */
  method: string;
  trials: number;
  /** What was observed, in full (refusal messages are not cut). */
  outcome: string;
  passed: boolean;
}

interface CatalogCase {
  id: string;
  area: string;
  case: string;
  backends: string[];
}

const CASES: readonly CatalogCase[] = catalog.cases;

function catalogCase(id: string): CatalogCase {
  const found = CASES.find((c) => c.id === id);
  if (!found) throw new Error(`[reliability] case "${id}" is not listed in src/cases.json`);
  return found;
}

/** The name of a case, as the report shows it. */
export function caseName(id: string): string {
  return catalogCase(id).case;
}

export const RESULTS_DIR = join(import.meta.dirname, "..", ".results");

/** The run this process belongs to (set by `run-setup.ts`, inherited by workers). */
function runId(): string {
  return process.env.TRAINABLE_RELIABILITY_RUN ?? "unknown";
}

/** Where the rows of a run are appended: `.results/runs/<run>.jsonl`. */
function resultsFile(run = runId()): string {
  return join(RESULTS_DIR, "runs", `${run}.jsonl`);
}

/** Full trial counts with `TRAINABLE_RELIABILITY_FULL=1` (`pnpm test:reliability`), smaller in CI. */
export const FULL = process.env.TRAINABLE_RELIABILITY_FULL === "1";

export function trials(ci: number, full: number): number {
  return FULL ? full : ci;
}

/** Records a case's outcome in this run's results; scripts/write-report.mjs makes the report. */
export function recordCase(row: CaseRecord): void {
  const known = catalogCase(row.id);
  if (!known.backends.includes(row.backend)) {
    throw new Error(
      `[reliability] case "${row.id}" is not listed for backend "${row.backend}" in src/cases.json`,
    );
  }
  mkdirSync(join(RESULTS_DIR, "runs"), { recursive: true });
  appendFileSync(
    resultsFile(),
    `${JSON.stringify({
      ...row,
      area: known.area,
      case: known.case,
      run: runId(),
      at: new Date().toISOString(),
      full: FULL,
    })}\n`,
  );
}
