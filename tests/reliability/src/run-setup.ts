/**
 * Vitest `globalSetup` of the reliability suite: starts a new run of results.
 *
 * - Gives the run an id (`TRAINABLE_RELIABILITY_RUN`, inherited by workers and child
 *   processes); every case recorded in this run goes to `.results/runs/<id>.jsonl`, so the
 *   report (scripts/write-report.mjs) is made from one run only, never mixed with rows of
 *   earlier runs. `.results/latest.json` names the newest run; `.results/runs/<id>.json`
 *   holds its start, end, wall time and trial counts (CI or full).
 * - Points `TRAINABLE_CACHE_DIR` at a temporary folder when it is not set, so nothing the
 *   suite runs (stores' fingerprint caches, the CLI, model caches) writes to the user's
 *   `~/.cache`. Tests still pass their own `fingerprintCache` / cache folders explicitly.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FULL, RESULTS_DIR } from "./report.js";

export default function setup(): () => void {
  const started = new Date();
  const id = `${started.toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
  mkdirSync(join(RESULTS_DIR, "runs"), { recursive: true });
  const meta = join(RESULTS_DIR, "runs", `${id}.json`);
  const info = {
    id,
    full: FULL,
    startedAt: started.toISOString(),
    args: process.argv.slice(2),
    seed: process.env.TRAINABLE_RELIABILITY_SEED ?? null,
    node: process.version,
  };
  writeFileSync(meta, `${JSON.stringify(info, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, "latest.json"), `${JSON.stringify({ id }, null, 2)}\n`);
  process.env.TRAINABLE_RELIABILITY_RUN = id;
  let cacheDir: string | undefined;
  if (!process.env.TRAINABLE_CACHE_DIR) {
    cacheDir = mkdtempSync(join(tmpdir(), "trainable-rel-cache-"));
    process.env.TRAINABLE_CACHE_DIR = cacheDir;
  }
  console.log(`[reliability] run ${id} (${FULL ? "full counts" : "CI counts"})`);
  return () => {
    const finished = new Date();
    const current = JSON.parse(readFileSync(meta, "utf8"));
    writeFileSync(
      meta,
      `${JSON.stringify(
        {
          ...current,
          finishedAt: finished.toISOString(),
          wallMs: finished.getTime() - started.getTime(),
        },
        null,
        2,
      )}\n`,
    );
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  };
}
