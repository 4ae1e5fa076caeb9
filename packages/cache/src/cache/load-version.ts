import type { CheckpointRef, Id } from "@trainable/core";
import type { DiskCache, DiskLease } from "../disk/disk-cache.js";
import type { HandleTable } from "./handle-table.js";
import type { ModelCacheStats } from "./model-cache-stats.js";
import type { ModelLoadOptions } from "./model-lease.js";
import { type MemoryEntry, type ModelMemory, newEntry } from "./model-memory.js";
import type { ResolvedOptions } from "./resolve-options.js";

export interface LoadDeps {
  options: ResolvedOptions;
  workspace: Id;
  disk: DiskCache | undefined;
  table: HandleTable;
  memory: ModelMemory;
  counters: ModelCacheStats;
  /** True once the cache is closed: a model loaded then is served, not kept. */
  closed: () => boolean;
}

/**
 * Loads one version of a model (a memory miss): its folder from the disk cache (downloaded
 * when missing) or, without a disk cache, a temp download; then `load`. The entry is kept in
 * memory when a known handle still points at the version and it fits.
 */
export async function loadVersion(
  deps: LoadDeps,
  what: {
    key: string;
    pluginInstanceId: Id;
    ref: CheckpointRef;
    load: ModelLoadOptions<unknown>["load"];
    signal: AbortSignal;
  },
): Promise<MemoryEntry> {
  const { options: o, counters, disk } = deps;
  const { key, pluginInstanceId, ref, load, signal } = what;
  counters.misses++;
  const runLoad = async (dir: string, loadedRef: CheckpointRef): Promise<unknown> => {
    counters.loads++;
    try {
      return await load(dir, loadedRef);
    } catch (error) {
      counters.loadErrors++;
      throw error;
    }
  };
  let model: unknown;
  let diskLease: DiskLease | undefined;
  if (disk) {
    diskLease = await disk.acquire({
      workspace: deps.workspace,
      pluginInstanceId,
      ref,
      offline: o.offline,
      signal,
    });
    try {
      model = await runLoad(diskLease.dir, ref);
    } catch (error) {
      diskLease.release();
      throw error;
    }
  } else {
    counters.downloads++;
    model = await o.store.withCheckpoint({ pluginInstanceId, ref, signal, use: runLoad });
    counters.bytesDownloaded += ref.size;
  }
  // Held for the callers waiting on this load: each claims its own lease as the result
  // reaches it, then the flight drops this hold (`onForgotten`).
  const entry = newEntry(key, { model, diskLease, size: ref.size });
  if (deps.closed()) return entry;
  if (!deps.table.referenced(pluginInstanceId, ref.digest)) {
    o.logger.debug?.(`[cache] ${key} is no handle's version any more: served, not kept`);
    return entry;
  }
  if (!deps.memory.keep(entry)) {
    o.logger.warn?.(
      `[cache] ${key} (${ref.size} bytes) is larger than maxBytes (${o.maxBytes}): served but not kept in memory`,
    );
  }
  return entry;
}
