import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { HOST, isProcessAlive, PID_NAMESPACE } from "@trainable/internal-node";

/**
 * The store's temp folders (a `save({ write })` writes the model there; `withCheckpoint`
 * extracts there): `{tmpRoot}/trainable-{save|load}-{owner}-{pid}-XXXXXX`, where the owner is
 * the host name and pid namespace (`{host}_{namespace}`, or the host alone where there is
 * none). A process killed mid-save leaves its folder behind, a whole model's files; the first
 * temp folder a store makes in a process removes the folders of its own host and namespace
 * whose process is gone. Folders of another namespace (a container sharing the temp dir),
 * whose pids mean nothing here, are left alone; a recycled pid only keeps a folder longer.
 */
export type TempDirKind = "save" | "load";

const NAME = /^trainable-(save|load)-(.+)-(\d+)-[A-Za-z0-9]{6}$/;

/** Whose pids a folder's name records: this host, in this pid namespace. */
export const TEMP_DIR_OWNER = PID_NAMESPACE ? `${HOST}_${PID_NAMESPACE}` : HOST;

const sweeps = new Map<string, Promise<number>>();

/** Removes the temp folders under `tmpRoot` left by processes of this host and namespace that are gone; returns how many. */
export async function sweepStaleTempDirs(tmpRoot: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(tmpRoot);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const match = NAME.exec(name);
    if (!match || match[2] !== TEMP_DIR_OWNER) continue;
    const pid = Number(match[3]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      await rm(join(tmpRoot, name), { recursive: true, force: true });
      removed++;
    } catch {
      // Best effort: a folder we cannot remove stays for the next sweep.
    }
  }
  return removed;
}

/** A fresh temp folder under `tmpRoot` for the time of `use` (removed after, whatever happens). */
export async function withTempDir<T>(
  tmpRoot: string,
  kind: TempDirKind,
  use: (dir: string) => Promise<T>,
): Promise<T> {
  await mkdir(tmpRoot, { recursive: true });
  let sweep = sweeps.get(tmpRoot);
  if (!sweep) {
    sweep = sweepStaleTempDirs(tmpRoot);
    sweeps.set(tmpRoot, sweep);
  }
  await sweep;
  const dir = await mkdtemp(join(tmpRoot, `trainable-${kind}-${TEMP_DIR_OWNER}-${process.pid}-`));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
