import { mkdir, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { exists, HOST, isProcessAlive, readDirIfExists } from "@trainable/internal-node";
import { type EntryPaths, ownedName, parseOwnedName } from "./entry-paths.js";

/**
 * Leases per entry folder held by this process, shared by every cache of the process (two
 * caches on one folder must not evict each other's entries): such entries are never evicted.
 * Pin files on disk tell other processes the same.
 */
export const leases = new Map<string, number>();

/** Pins and temp folders of other hosts are trusted this long (their pids cannot be checked). */
const FOREIGN_TTL_MS = 24 * 60 * 60 * 1000;

/** The names in a folder, or none when it does not exist. */
export async function readdirSafe(path: string): Promise<string[]> {
  return (await readDirIfExists(path)).map((entry) => entry.name);
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** Removes an entry: marker first (so it is never seen complete), then its folder. */
export async function removeEntry(p: EntryPaths): Promise<void> {
  await rm(p.marker, { force: true });
  if (await exists(p.dir)) {
    await mkdir(p.tmp, { recursive: true });
    const trash = join(p.tmp, ownedName("trash"));
    await rename(p.dir, trash);
    await rm(trash, { recursive: true, force: true });
  }
}

/**
 * Removes leftovers in `.tmp`: trash, and downloads of processes that are gone (this host)
 * or older than a day (other hosts). With `hex`, only that checkpoint's.
 */
export async function sweepTmp(tmp: string, hex?: string): Promise<void> {
  for (const name of await readdirSafe(tmp)) {
    const owner = parseOwnedName(name);
    if (!owner) continue;
    if (hex !== undefined && owner.prefix !== hex && owner.prefix !== "trash") continue;
    let removable: boolean;
    if (owner.host === HOST) removable = owner.pid !== process.pid && !isProcessAlive(owner.pid);
    else removable = await olderThan(join(tmp, name), FOREIGN_TTL_MS);
    if (removable) await rm(join(tmp, name), { recursive: true, force: true });
  }
}

/** True when another process (or a lease of ours) may be using the entry. */
export async function inUse(p: EntryPaths): Promise<boolean> {
  if ((leases.get(p.dir) ?? 0) > 0) return true;
  for (const name of await readdirSafe(p.pins)) {
    const owner = parseOwnedName(name);
    if (!owner) continue;
    const file = join(p.pins, name);
    if (owner.host === HOST) {
      // This process's own pins are counted in `leases` (a leftover one is being removed).
      if (owner.pid === process.pid) continue;
      if (isProcessAlive(owner.pid)) return true;
      await unlink(file).catch(() => {});
    } else if (!(await olderThan(file, FOREIGN_TTL_MS))) {
      return true;
    }
  }
  return false;
}
