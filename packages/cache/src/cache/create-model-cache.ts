import {
  type CheckpointRef,
  type CheckpointStore,
  DEFAULT_HANDLE,
  type ModelCache,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import { DiskCache } from "../disk/disk-cache.js";
import { SingleFlight } from "../util/single-flight.js";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";
import { DIGEST, HandleResolver } from "./handle-resolver.js";
import { HandleTable } from "./handle-table.js";
import { type LoadDeps, loadVersion } from "./load-version.js";
import { emptyStats, type ModelCacheStats } from "./model-cache-stats.js";
import { classId as classIdOf, modelKindKey } from "./model-key.js";
import type { ModelLease, ModelLoadOptions } from "./model-lease.js";
import { type MemoryEntry, ModelMemory } from "./model-memory.js";
import { resolveOptions } from "./resolve-options.js";

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

/** What `obtain` hands back: the entry (one lease taken) and how its version was found. */
interface Obtained {
  entry: MemoryEntry;
  ref: CheckpointRef;
  stale: boolean;
  pluginInstanceId: string;
  handle: string;
}

/** Checks the load options every call takes; returns the ids. */
function checkLoad(load: ModelLoadOptions<unknown>): { pluginInstanceId: string; handle: string } {
  if (!load || typeof load !== "object")
    throw ValidationError.forField("cache", "options", "expected an object");
  const pluginInstanceId = validateId(load.pluginInstanceId, "pluginInstanceId");
  const handle = validateId(load.handle ?? DEFAULT_HANDLE, "handle");
  if (typeof load.load !== "function")
    throw ValidationError.forField("cache", "load", "must be a function");
  return { pluginInstanceId, handle };
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
  const memory = new ModelMemory({ ...o, counters, warn });
  const table = new HandleTable({ workspace, memory, logger, now });
  const resolver = new HandleResolver({ options: o, workspace, disk, table, memory, counters });
  /** Memory-key suffixes by config object, then model class and kind (see kindKeyOf). */
  const kindKeys = new WeakMap<object, Map<string, string>>();
  const loading = new SingleFlight<MemoryEntry>();
  /** The digest last written to each handle file on disk (for offline use). */
  const written = new Map<string, string>();
  let closed = false;
  const loadDeps: LoadDeps = {
    options: o,
    workspace,
    disk,
    table,
    memory,
    counters,
    closed: () => closed,
  };

  async function rememberHandle(got: Obtained): Promise<void> {
    // A stale answer is not recorded: the disk keeps when the version was last verified.
    if (!disk || o.offline || got.stale) return;
    const { pluginInstanceId, handle } = got;
    const digest = got.ref.digest;
    const key = `${pluginInstanceId}/${handle}`;
    if (written.get(key) === digest) return;
    written.set(key, digest);
    try {
      await disk.writeHandle({ workspace, pluginInstanceId, handle, digest });
    } catch (error) {
      written.delete(key);
      warn(`could not record ${table.describe(pluginInstanceId, handle)} for offline use`)(error);
    }
  }

  function assertOpen(): void {
    if (closed) throw new TrainableError("INTERNAL", "[cache] This model cache is closed");
  }

  /**
   * `modelKindKey`, remembered per config object and model class (a served instance asks
   * with the same two objects on every request).
   */
  function kindKeyOf(load: ModelLoadOptions<unknown>): string {
    const { config, modelClass, kind } = load;
    if (
      config === null ||
      typeof config !== "object" ||
      (kind !== undefined && typeof kind !== "string") ||
      (modelClass !== undefined && (modelClass === null || typeof modelClass !== "function"))
    ) {
      return modelKindKey(load);
    }
    let byClass = kindKeys.get(config);
    if (!byClass) {
      byClass = new Map();
      kindKeys.set(config, byClass);
    }
    const sub = `${modelClass === undefined ? "" : classIdOf(modelClass)}|${kind ?? ""}`;
    let key = byClass.get(sub);
    if (key === undefined) {
      key = modelKindKey(load);
      byClass.set(sub, key);
    }
    return key;
  }

  /** Resolves, loads if needed, and takes one lease on the entry (the caller releases it). */
  async function obtain<M>(load: ModelLoadOptions<M>): Promise<Obtained> {
    assertOpen();
    const { pluginInstanceId, handle } = checkLoad(load as ModelLoadOptions<unknown>);
    const kindKey = kindKeyOf(load as ModelLoadOptions<unknown>);
    const signalOf = () => load.signal;
    for (;;) {
      const { ref, stale } = await resolver.resolve({
        pluginInstanceId,
        handle,
        kindKey,
        signalOf,
      });
      const key = `${table.versionPrefix(pluginInstanceId, ref.digest)}${kindKey}`;
      const hit = memory.get(key);
      if (hit) {
        counters.hits++;
        hit.leases++;
        return { entry: hit, ref, stale, pluginInstanceId, handle };
      }
      const entry = await loading.run(
        key,
        (signal) =>
          loadVersion(loadDeps, {
            key,
            pluginInstanceId,
            ref,
            load: load.load as ModelLoadOptions<unknown>["load"],
            signal,
          }),
        {
          signal: load.signal,
          what: `[cache] loading ${table.describe(pluginInstanceId, handle)}`,
          onJoin: () => counters.hits++,
          claim: (loaded) => {
            if (!loaded.done) loaded.leases++;
          },
          onForgotten: (loaded) => memory.release(loaded),
        },
      );
      // Let go before this caller could claim it (joined a finished load of a version not kept
      // in memory): load again.
      if (entry.done) continue;
      return { entry, ref, stale, pluginInstanceId, handle };
    }
  }

  const cache: ModelCacheImpl = {
    store,
    diskDir: o.diskDir,
    offline: o.offline,

    async getOrLoad<M>(load: ModelLoadOptions<M>): Promise<M> {
      const got = await obtain(load);
      const { entry } = got;
      entry.unleased = true;
      entry.unleasedAt = Date.now();
      memory.release(entry);
      await rememberHandle(got);
      return entry.model as M;
    },

    async acquire<M>(load: ModelLoadOptions<M>): Promise<ModelLease<M>> {
      const got = await obtain(load);
      const { entry } = got;
      await rememberHandle(got);
      let released = false;
      return {
        model: entry.model as M,
        ref: got.ref,
        release: () => {
          if (released) return;
          released = true;
          memory.release(entry);
        },
      };
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
      table.set(pluginInstanceId, handle, { ref, verifiedAt: now(), trusted: true });
    },

    stats() {
      return { ...counters };
    },

    clear() {
      table.clear();
      memory.clear();
    },

    async evictDisk() {
      assertOpen();
      return disk ? disk.evict() : 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      table.clear();
      memory.clear();
      await resolver.close();
      await disk?.close();
    },
  };
  return cache;
}
