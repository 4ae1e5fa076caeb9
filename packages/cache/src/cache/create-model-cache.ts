import type { CheckpointRef, CheckpointStore, ModelCache } from "@trainable/core";
import { ValidationError, validateId } from "@trainable/core";
import { assertOpen, createCacheParts, obtain, rememberHandle } from "./cache-parts.js";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";
import { DIGEST } from "./handle-resolver.js";
import { leaseFromMemory } from "./lease-from-memory.js";
import type { ModelCacheStats } from "./model-cache-stats.js";
import { EntryLease, type ModelLease, type ModelLoadOptions } from "./model-lease.js";
import type { MemoryEntry } from "./model-memory.js";

/** The cache returned by {@link createModelCache}: the `ModelCache` port plus management. */
export interface ModelCacheImpl extends ModelCache {
  readonly store: CheckpointStore;
  /** The disk cache folder, or undefined when the disk cache is off. */
  readonly diskDir: string | undefined;
  readonly offline: boolean;
  /**
   * The model for a handle, without a lease: the cache cannot know when the caller is done
   * with it, so it never disposes it (unless `disposeUnleasedAfterMs` says otherwise). Prefer
   * {@link ModelCacheImpl.use} or {@link ModelCacheImpl.acquire} where a request has an end.
   */
  getOrLoad<M>(options: ModelLoadOptions<M>): Promise<M>;
  /**
   * The model for a handle, held until `release()`: never disposed while held; disposed at the
   * last release once it has left memory. Release it in a `finally`.
   */
  acquire<M>(options: ModelLoadOptions<M>): Promise<ModelLease<M>>;
  /**
   * `acquire` without waiting: the lease when the handle's version is known and fresh, its
   * model is in memory and nothing has to be written; `undefined` when `acquire` would have
   * to ask the store, load, write the handle's record or refuse the options. For serving
   * paths that want no promise per request on a memory hit.
   */
  acquireCached<M>(options: ModelLoadOptions<M>): ModelLease<M> | undefined;
  /** `acquire`, `fn(model, ref)`, then `release()` however `fn` ends. Returns what `fn` returns. */
  use<M, R>(
    options: ModelLoadOptions<M>,
    fn: (model: M, ref: CheckpointRef) => R | Promise<R>,
  ): Promise<R>;
  /**
   * Makes the next call for a handle (or for every handle of the instance) ask the store and
   * wait for the answer. Loaded models stay: they are keyed by version. The forgotten digest
   * is still the one served if the store then fails (see `staleIfErrorMs`).
   */
  invalidate(options: { pluginInstanceId: string; handle?: string }): void;
  /** Points a handle at `ref` at once (a save through this process). */
  notifySaved(options: { pluginInstanceId: string; ref: CheckpointRef }): void;
  /** A snapshot of the counters. */
  stats(): ModelCacheStats;
  /**
   * Drops every loaded model and every resolved handle (the disk is kept). Models are disposed
   * as their last lease is released (at once when none is held; never for a model handed out
   * by `getOrLoad`, unless `disposeUnleasedAfterMs` is finite).
   */
  clear(): void;
  /** Runs a disk eviction pass now; returns the number of entries removed. */
  evictDisk(): Promise<number>;
  /**
   * Clears memory (as `clear`), stops background revalidations, and waits for pending disk
   * bookkeeping. Leases still held stay valid; their models are disposed when released.
   */
  close(): Promise<void>;
}

/**
 * Creates a model cache for `store`:
 *
 * - memory: an LRU of loaded models keyed `{workspace}/{pluginInstanceId}@{digest}#{kind}` — the
 *   version, never the handle — where the kind is the string `kind`, the model class by
 *   identity and the config as canonical JSON;
 * - revalidation: a handle's digest is trusted for `revalidateMs`, then re-resolved — in the
 *   background while the known version is in memory (`staleWhileRevalidateMs`), and a failing
 *   store (anything but not-found) answers with the last verified version (`staleIfErrorMs`);
 * - leases: a model is never disposed while `acquire`d; models that leave memory (evicted,
 *   replaced by a moved handle, cleared) are disposed at their last release;
 * - single flight: concurrent loads of one version share one download and one `load`, and a
 *   failed load is not cached;
 * - disk: verified extracted checkpoints by digest, shared safely by concurrent processes;
 * - offline: no store calls, the last known version of each handle from disk.
 */
export function createModelCache(options: CreateModelCacheOptions): ModelCacheImpl {
  const parts = createCacheParts(options);
  const { options: o, table, memory, counters, disk, resolver } = parts;
  const { store } = o;

  const cache: ModelCacheImpl = {
    store,
    diskDir: o.diskDir,
    offline: o.offline,

    async getOrLoad<M>(load: ModelLoadOptions<M>): Promise<M> {
      const got = await obtain(parts, load);
      const { entry } = got;
      entry.unleased = true;
      entry.unleasedAt = Date.now();
      memory.release(entry);
      await rememberHandle(parts, got);
      return entry.model as M;
    },

    async acquire<M>(load: ModelLoadOptions<M>): Promise<ModelLease<M>> {
      // `load` is checked as obtain checks it, even when it is not needed.
      const fast = typeof load?.load === "function" ? leaseFromMemory(parts, load) : undefined;
      if (fast) return fast;
      const got = await obtain(parts, load);
      await rememberHandle(parts, got);
      return new EntryLease<M, MemoryEntry>(got.entry, got.ref, (e) => memory.release(e));
    },

    acquireCached<M>(load: ModelLoadOptions<M>): ModelLease<M> | undefined {
      return leaseFromMemory(parts, load);
    },

    async use<M, R>(
      load: ModelLoadOptions<M>,
      fn: (model: M, ref: CheckpointRef) => R | Promise<R>,
    ): Promise<R> {
      if (typeof fn !== "function")
        throw ValidationError.forField("cache", "fn", "must be a function");
      const lease = await cache.acquire(load);
      try {
        return await fn(lease.model, lease.ref);
      } finally {
        lease.release();
      }
    },

    invalidate({ pluginInstanceId, handle }) {
      validateId(pluginInstanceId, "pluginInstanceId");
      table.distrust(
        pluginInstanceId,
        handle === undefined ? undefined : validateId(handle, "handle"),
      );
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
      table.epoch++;
      table.set(pluginInstanceId, handle, { ref, verifiedAt: o.now(), trusted: true });
    },

    stats() {
      return { ...counters };
    },

    clear() {
      table.clear();
      memory.clear();
    },

    async evictDisk() {
      assertOpen(parts);
      return disk ? disk.evict() : 0;
    },

    async close() {
      if (parts.closed()) return;
      parts.close();
      table.clear();
      memory.clear();
      await resolver.close();
      await disk?.close();
    },
  };
  return cache;
}
