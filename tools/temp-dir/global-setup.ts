/**
 * Vitest `globalSetup` giving a test run a temp root of its own: `TMPDIR` points at a fresh
 * `{os tmp}/trainable-test-{package}-XXXXXX` for the run (the workers and every child process
 * inherit it, so `os.tmpdir()` is that folder), and teardown deletes it. What a test forgets
 * to remove, or a killed child leaves, goes with it instead of piling up in /tmp across runs.
 *
 * List it after the server setups: they keep their cross-process lock files in the real temp
 * dir, shared by every package's run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), `trainable-test-${basename(process.cwd())}-`));
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
