import { readFile, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { isValidId } from "@trainable/core";
import { exists, tryLock } from "@trainable/internal-node";
import type { DiskCacheOptions } from "./disk-cache.js";
import { inUse, leases, readdirSafe, removeEntry, sweepTmp } from "./entry-files.js";
import { type EntryPaths, entryPaths, instanceDir, LAYOUT_VERSION } from "./entry-paths.js";

export interface EvictionDeps
  extends Pick<DiskCacheOptions, "root" | "maxBytes" | "lockStaleMs" | "stats" | "logger"> {
  /** True while this process is installing the entry of this key. */
  ensuring(key: string): boolean;
}

/**
 * Evicts least-recently-used entries until the cache holds at most `maxBytes` (extracted
 * bytes), skipping entries in use by this process, pinned by a live process or being
 * written. Also removes orphaned folders (no marker) and dead processes' temp folders.
 * Returns the number of entries evicted.
 */
export async function evictPass(deps: EvictionDeps): Promise<number> {
  const { stats, logger, root, maxBytes, lockStaleMs } = deps;
  const entries: Array<{ p: EntryPaths; bytes: number; usedAt: number }> = [];
  const base = join(root, LAYOUT_VERSION);
  for (const workspace of await readdirSafe(base)) {
    if (!isValidId(workspace)) continue; // not ours
    for (const pluginInstanceId of await readdirSafe(join(base, workspace))) {
      if (!isValidId(pluginInstanceId)) continue; // not ours
      let names: string[];
      try {
        names = await readdirSafe(instanceDir(root, workspace, pluginInstanceId));
      } catch {
        continue; // unreadable: left alone
      }
      await sweepTmp(join(base, workspace, pluginInstanceId, ".tmp"));
      const markers = new Set(
        names.filter((n) => /^[a-f0-9]{64}\.complete\.json$/.test(n)).map((n) => n.slice(0, 64)),
      );
      for (const name of names) {
        if (!/^[a-f0-9]{64}$/.test(name)) continue;
        const p = entryPaths({ root, workspace, pluginInstanceId, digest: `sha256:${name}` });
        if (!markers.has(name)) {
          await removeOrphan(deps, p);
          continue;
        }
        try {
          const [info, text] = await Promise.all([stat(p.marker), readFile(p.marker, "utf8")]);
          const bytes = Number((JSON.parse(text) as { bytes?: unknown }).bytes);
          entries.push({ p, bytes: Number.isFinite(bytes) ? bytes : 0, usedAt: info.mtimeMs });
        } catch {
          entries.push({ p, bytes: 0, usedAt: 0 }); // unreadable marker: first to go
        }
      }
    }
  }
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  if (total <= maxBytes) return 0;
  entries.sort((a, b) => a.usedAt - b.usedAt);
  let evicted = 0;
  for (const { p, bytes, usedAt } of entries) {
    if (total <= maxBytes) break;
    if (await inUse(p)) continue;
    const lock = await tryLock(p.lock, { staleMs: lockStaleMs });
    if (!lock) continue;
    try {
      if (await inUse(p)) continue;
      // Used since the listing (a lease released meanwhile touched it): no longer the least
      // recently used, whatever the order read before says.
      if (usedAt !== 0 && (await stat(p.marker).catch(() => undefined))?.mtimeMs !== usedAt) {
        continue;
      }
      await removeEntry(p);
      await rmdir(p.pins).catch(() => {});
      total -= bytes;
      evicted++;
      stats.diskEvictions++;
      logger.debug?.(`[cache] Evicted ${p.dir} (${bytes} bytes) from the disk cache`);
    } finally {
      await lock.release();
    }
  }
  if (total > maxBytes) {
    logger.warn?.(
      `[cache] The disk cache holds ${total} bytes, over diskMaxBytes ${maxBytes}: the rest is in use`,
    );
  }
  return evicted;
}

/** A folder without a marker and without a live writer is a leftover: remove it. */
async function removeOrphan(deps: EvictionDeps, p: EntryPaths): Promise<void> {
  if ((leases.get(p.dir) ?? 0) > 0 || deps.ensuring(p.key)) return;
  const lock = await tryLock(p.lock, { staleMs: deps.lockStaleMs });
  if (!lock) return;
  try {
    if (!(await exists(p.marker))) await removeEntry(p);
  } finally {
    await lock.release();
  }
}
