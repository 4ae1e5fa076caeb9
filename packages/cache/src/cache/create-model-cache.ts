import {
  type CacheLoadOptions,
  type CheckpointRef,
  type CheckpointStore,
  DEFAULT_HANDLE,
  IntegrityError,
  type ModelCache,
  NotFoundError,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import { LRUCache } from "lru-cache";
import { DiskCache, type DiskLease } from "../disk/disk-cache.js";
import { SingleFlight } from "../util/single-flight.js";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";
import { emptyStats, type ModelCacheStats } from "./model-cache-stats.js";
import { resolveOptions } from "./resolve-options.js";

/** The cache returned by {@link createModelCache}: the `ModelCache` port plus management. */
export interface ModelCacheImpl extends ModelCache {
  readonly store: CheckpointStore;
  /** The disk cache folder, or undefined when the disk cache is off. */
  readonly diskDir: string | undefined;
  readonly offline: boolean;
  getOrLoad<M>(options: CacheLoadOptions<M>): Promise<M>;
  /** Forgets the resolved digest of a handle (or of every handle of the instance). */
  invalidate(options: { pluginInstanceId: string; handle?: string }): void;
  /** Points a handle at `ref` at once (a save through this process). */
  notifySaved(options: { pluginInstanceId: string; ref: CheckpointRef }): void;
  /** A snapshot of the counters. */
  stats(): ModelCacheStats;
  /** Drops every loaded model (disposing it) and every resolved handle. The disk is kept. */
  clear(): void;
  /** Runs a disk eviction pass now; returns the number of entries removed. */
  evictDisk(): Promise<number>;
  /** Clears memory, releases disk pins and waits for pending disk bookkeeping. */
  close(): Promise<void>;
}

interface MemoryEntry {
  model: unknown;
  lease: DiskLease | undefined;
  size: number;
}

interface KnownHandle {
  ref: CheckpointRef;
  resolvedAt: number;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function disposeModel(model: unknown, onError: (error: unknown) => void): void {
  const dispose = (model as { dispose?: unknown } | null)?.dispose;
  if (typeof dispose !== "function") return;
  try {
    Promise.resolve(dispose.call(model)).catch(onError);
  } catch (error) {
    onError(error);
  }
}

/**
 * Creates a model cache for `store`:
 *
 * - memory: an LRU of loaded models keyed `{workspace}/{pluginInstanceId}@{digest}#{kind}` — the
 *   version, never the handle — with each handle's digest re-resolved once `revalidateMs` has
 *   passed, so a moved `default` is served within that time and versions never mix;
 * - single flight: concurrent loads of one version share one download and one `load`, and a
 *   failed load is not cached;
 * - disk: verified extracted checkpoints by digest, shared safely by concurrent processes;
 * - offline: no store calls, the last known version of each handle from disk.
 */
export function createModelCache(options: CreateModelCacheOptions): ModelCacheImpl {
  const o = resolveOptions(options);
  const { store, logger, now } = o;
  const workspace = validateId(store.workspace, "store.workspace");
  const counters = emptyStats();
  const warn = (what: string) => (error: unknown) =>
    logger.warn?.(`[cache] ${what}: ${(error as Error)?.message ?? String(error)}`);

  const disk =
    o.diskDir === undefined
      ? undefined
      : new DiskCache({
          root: o.diskDir,
          store,
          maxBytes: o.diskMaxBytes,
          verify: o.verify,
          lockStaleMs: o.lockStaleMs,
          pollMs: { min: Math.min(20, o.pollMs), max: o.pollMs },
          logger,
          stats: counters,
        });

  const memory = new LRUCache<string, MemoryEntry>({
    max: o.maxEntries,
    ...(o.maxBytes === undefined
      ? {}
      : { maxSize: o.maxBytes, sizeCalculation: (entry: MemoryEntry) => Math.max(1, entry.size) }),
    dispose: (entry, key, reason) => {
      if (reason === "evict") {
        counters.evictions++;
        logger.debug?.(`[cache] Evicted ${key} from memory`);
      }
      disposeModel(entry.model, warn(`dispose() of ${key} failed`));
      entry.lease?.release();
    },
  });

  const handles = new Map<string, KnownHandle>();
  /** Bumped by notifySaved/invalidate/clear: a resolution that started earlier is not stored. */
  let epoch = 0;
  const resolving = new SingleFlight<CheckpointRef>();
  const loading = new SingleFlight<unknown>();
  /** The digest last written to each handle file on disk (for offline use). */
  const written = new Map<string, string>();
  let closed = false;

  const describe = (pluginInstanceId: string, handle: string) =>
    `handle "${handle}" of ${workspace}/${pluginInstanceId}`;

  async function resolveOffline(pluginInstanceId: string, handle: string): Promise<CheckpointRef> {
    const dk = disk as DiskCache;
    const notCached = (why: string) =>
      new NotFoundError(
        `[cache] Offline: ${describe(pluginInstanceId, handle)} is not cached in ${dk.root} (${why}); load it once online first`,
      );
    const digest = await dk.readHandle({ workspace, pluginInstanceId, handle });
    if (!digest) throw notCached("no version of it was ever loaded here");
    const ref = await dk.readEntryRef({ workspace, pluginInstanceId, digest });
    if (!ref) throw notCached(`its last known version ${digest} is no longer on disk`);
    return ref;
  }

  function resolveHandle(
    pluginInstanceId: string,
    handle: string,
    signal?: AbortSignal,
  ): Promise<CheckpointRef> {
    const key = `${pluginInstanceId}/${handle}`;
    const known = handles.get(key);
    if (known && now() - known.resolvedAt < o.revalidateMs) return Promise.resolve(known.ref);
    return resolving.run(
      key,
      async (flightSignal) => {
        const startedAt = now();
        const startEpoch = epoch;
        counters.revalidations++;
        let ref: CheckpointRef;
        try {
          ref = o.offline
            ? await resolveOffline(pluginInstanceId, handle)
            : await store.resolve({ pluginInstanceId, handle, signal: flightSignal });
        } catch (error) {
          if (NotFoundError.isInstance(error) && epoch === startEpoch) handles.delete(key);
          throw error;
        }
        if (!ref || typeof ref.digest !== "string" || !DIGEST.test(ref.digest)) {
          throw new IntegrityError(
            `[cache] The store resolved ${describe(pluginInstanceId, handle)} to a malformed ref`,
          );
        }
        if (epoch !== startEpoch) return handles.get(key)?.ref ?? ref;
        handles.set(key, { ref, resolvedAt: startedAt });
        return ref;
      },
      { signal, what: `[cache] resolving ${describe(pluginInstanceId, handle)}` },
    );
  }

  async function loadVersion<M>(
    key: string,
    pluginInstanceId: string,
    ref: CheckpointRef,
    load: CacheLoadOptions<M>["load"],
    signal: AbortSignal,
  ): Promise<M> {
    counters.misses++;
    const runLoad = async (dir: string, loadedRef: CheckpointRef): Promise<M> => {
      counters.loads++;
      try {
        return await load(dir, loadedRef);
      } catch (error) {
        counters.loadErrors++;
        throw error;
      }
    };
    let model: M;
    let lease: DiskLease | undefined;
    if (disk) {
      lease = await disk.acquire({ workspace, pluginInstanceId, ref, offline: o.offline, signal });
      try {
        model = await runLoad(lease.dir, ref);
      } catch (error) {
        lease.release();
        throw error;
      }
    } else {
      counters.downloads++;
      model = await store.withCheckpoint({ pluginInstanceId, ref, signal, use: runLoad });
      counters.bytesDownloaded += ref.size;
    }
    if (closed) {
      lease?.release();
      return model;
    }
    memory.set(key, { model, lease, size: ref.size });
    if (!memory.has(key)) {
      lease?.release();
      logger.warn?.(
        `[cache] ${key} (${ref.size} bytes) is larger than maxBytes (${o.maxBytes}): served but not kept in memory`,
      );
    }
    return model;
  }

  async function rememberHandle(
    pluginInstanceId: string,
    handle: string,
    digest: string,
  ): Promise<void> {
    if (!disk || o.offline) return;
    const key = `${pluginInstanceId}/${handle}`;
    if (written.get(key) === digest) return;
    written.set(key, digest);
    try {
      await disk.writeHandle({ workspace, pluginInstanceId, handle, digest });
    } catch (error) {
      written.delete(key);
      warn(`could not record ${describe(pluginInstanceId, handle)} for offline use`)(error);
    }
  }

  function assertOpen(): void {
    if (closed) throw new TrainableError("INTERNAL", "[cache] This model cache is closed");
  }

  const cache: ModelCacheImpl = {
    store,
    diskDir: o.diskDir,
    offline: o.offline,

    async getOrLoad<M>(load: CacheLoadOptions<M>): Promise<M> {
      assertOpen();
      if (!load || typeof load !== "object")
        throw ValidationError.forField("cache", "options", "expected an object");
      const pluginInstanceId = validateId(load.pluginInstanceId, "pluginInstanceId");
      const handle = validateId(load.handle ?? DEFAULT_HANDLE, "handle");
      if (typeof load.load !== "function")
        throw ValidationError.forField("cache", "load", "must be a function");
      if (load.kind !== undefined && typeof load.kind !== "string") {
        throw ValidationError.forField("cache", "kind", "must be a string");
      }
      const ref = await resolveHandle(pluginInstanceId, handle, load.signal);
      const key = `${workspace}/${pluginInstanceId}@${ref.digest}#${load.kind ?? ""}`;
      const hit = memory.get(key);
      let model: M;
      if (hit) {
        counters.hits++;
        model = hit.model as M;
      } else {
        model = (await loading.run(
          key,
          (signal) => loadVersion(key, pluginInstanceId, ref, load.load, signal),
          {
            signal: load.signal,
            what: `[cache] loading ${describe(pluginInstanceId, handle)}`,
            onJoin: () => counters.hits++,
          },
        )) as M;
      }
      await rememberHandle(pluginInstanceId, handle, ref.digest);
      return model;
    },

    invalidate({ pluginInstanceId, handle }) {
      validateId(pluginInstanceId, "pluginInstanceId");
      epoch++;
      if (handle !== undefined) {
        handles.delete(`${pluginInstanceId}/${validateId(handle, "handle")}`);
        return;
      }
      for (const key of [...handles.keys()]) {
        if (key.startsWith(`${pluginInstanceId}/`)) handles.delete(key);
      }
    },

    notifySaved({ pluginInstanceId, ref }) {
      validateId(pluginInstanceId, "pluginInstanceId");
      if (!ref || typeof ref.digest !== "string" || !DIGEST.test(ref.digest)) {
        throw ValidationError.forField(
          "cache",
          "ref",
          "expected a CheckpointRef with a sha256 digest",
        );
      }
      const handle = validateId(ref.handle, "ref.handle");
      epoch++;
      handles.set(`${pluginInstanceId}/${handle}`, { ref, resolvedAt: now() });
    },

    stats() {
      return { ...counters };
    },

    clear() {
      epoch++;
      handles.clear();
      memory.clear();
    },

    async evictDisk() {
      assertOpen();
      return disk ? disk.evict() : 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      epoch++;
      handles.clear();
      memory.clear();
      await disk?.close();
    },
  };
  return cache;
}
