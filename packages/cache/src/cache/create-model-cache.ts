import {
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
import { kindKeyMemo } from "./model-key.js";
import { EntryLease, type ModelLease, type ModelLoadOptions } from "./model-lease.js";
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

/** A loaded model in (or leaving) memory. */
interface MemoryEntry {
  key: string;
  model: unknown;
  diskLease: DiskLease | undefined;
  size: number;
  /** Unreleased leases, plus a hold for the callers waiting on the load that made it. */
  leases: number;
  /** In the memory LRU (new callers can find it). */
  cached: boolean;
  /** Handed out by `getOrLoad`: some caller may use it for an unknown time. */
  unleased: boolean;
  /** When `getOrLoad` last handed it out (`Date.now()`). */
  unleasedAt: number;
  /** Disposed, or let go undisposed: nothing more to do. */
  done: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface KnownHandle {
  ref: CheckpointRef;
  /** When the resolution that returned `ref` started (the `now` clock). */
  verifiedAt: number;
  /** False after `invalidate`: the next call asks the store (`ref` stays the stale fallback). */
  trusted: boolean;
  /** The memory key of `ref` for the kind last asked (the fast path builds no string). */
  kindKey?: string;
  memoryKey?: string;
}

/** Revalidations of a handle failing in a row (anything but not-found). */
interface FailureStreak {
  error: unknown;
  /** When the first failed resolution of the streak started. */
  since: number;
  /** No background retry before this (the `now` clock). */
  retryAt: number;
  /** The warning of this streak has been logged. */
  warned: boolean;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** While a handle's revalidations fail, the store is asked again at most this often (or every revalidateMs, if longer). */
const MIN_RETRY_MS = 1000;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function disposeModel(model: unknown, onError: (error: unknown) => void): void {
  const dispose = (model as { dispose?: unknown } | null)?.dispose;
  if (typeof dispose !== "function") return;
  try {
    Promise.resolve(dispose.call(model)).catch(onError);
  } catch (error) {
    onError(error);
  }
}

function errorText(error: unknown): string {
  if (error === undefined) return "no answer";
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function ageText(ms: number): string {
  if (!Number.isFinite(ms)) return "an unknown time";
  return ms < 10_000 ? `${Math.max(0, Math.round(ms))} ms` : `${Math.round(ms / 1000)} s`;
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

  /**
   * Lets an entry go once nothing can use it: out of memory and no lease. A model handed out
   * without a lease is disposed only after `disposeUnleasedAfterMs` (default: never).
   */
  function settle(entry: MemoryEntry): void {
    if (entry.done || entry.cached || entry.leases > 0) return;
    if (entry.unleased) {
      const wait = entry.unleasedAt + o.disposeUnleasedAfterMs - Date.now();
      if (!Number.isFinite(wait)) {
        entry.done = true;
        entry.diskLease?.release();
        logger.debug?.(
          `[cache] ${entry.key} left memory; getOrLoad handed it out without a lease, so it is not disposed`,
        );
        return;
      }
      if (wait > 0) {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = setTimeout(
          () => {
            entry.timer = undefined;
            settle(entry);
          },
          Math.min(wait, MAX_TIMER_MS),
        );
        entry.timer.unref?.();
        return;
      }
    }
    entry.done = true;
    counters.disposals++;
    disposeModel(entry.model, warn(`dispose() of ${entry.key} failed`));
    entry.diskLease?.release();
  }

  function releaseEntry(entry: MemoryEntry): void {
    entry.leases--;
    settle(entry);
  }

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
      entry.cached = false;
      settle(entry);
    },
  });

  const handles = new Map<string, KnownHandle>();
  /** Memory-key suffixes, remembered per config object, model class and kind. */
  const kindKeyOf = kindKeyMemo();
  const failures = new Map<string, FailureStreak>();
  /** Bumped by notifySaved/invalidate/clear: a resolution that started earlier is not stored. */
  let epoch = 0;
  const resolving = new SingleFlight<CheckpointRef>();
  const loading = new SingleFlight<MemoryEntry>();
  /** The digest last written to each handle file on disk (for offline use). */
  const written = new Map<string, string>();
  /** Aborts background revalidations at close. */
  const background = new AbortController();
  const backgroundRuns = new Set<Promise<unknown>>();
  let closed = false;

  const describe = (pluginInstanceId: string, handle: string) =>
    `handle "${handle}" of ${workspace}/${pluginInstanceId}`;
  const handleKey = (pluginInstanceId: string, handle: string) => `${pluginInstanceId}/${handle}`;
  const versionPrefix = (pluginInstanceId: string, digest: string) =>
    `${workspace}/${pluginInstanceId}@${digest}#`;

  /** True when a handle of the instance this cache knows (trusted or not) points at `digest`. */
  function referenced(pluginInstanceId: string, digest: string): boolean {
    const prefix = `${pluginInstanceId}/`;
    for (const [key, known] of handles) {
      if (key.startsWith(prefix) && known.ref.digest === digest) return true;
    }
    return false;
  }

  /**
   * Drops a version no known handle points at any more from memory: each of its models is
   * disposed once its last lease is released.
   */
  function retireVersion(pluginInstanceId: string, digest: string): void {
    if (referenced(pluginInstanceId, digest)) return;
    const prefix = versionPrefix(pluginInstanceId, digest);
    for (const key of [...memory.keys()]) {
      if (!key.startsWith(prefix)) continue;
      memory.delete(key);
      logger.debug?.(`[cache] Released ${key}: no handle points at it any more`);
    }
  }

  function setHandle(pluginInstanceId: string, handle: string, known: KnownHandle): void {
    const key = handleKey(pluginInstanceId, handle);
    const previous = handles.get(key);
    handles.set(key, known);
    if (previous && previous.ref.digest !== known.ref.digest) {
      retireVersion(pluginInstanceId, previous.ref.digest);
    }
  }

  function forgetHandle(pluginInstanceId: string, handle: string): void {
    const key = handleKey(pluginInstanceId, handle);
    const previous = handles.get(key);
    if (!previous) return;
    handles.delete(key);
    retireVersion(pluginInstanceId, previous.ref.digest);
  }

  function endStreak(pluginInstanceId: string, handle: string): void {
    const key = handleKey(pluginInstanceId, handle);
    const streak = failures.get(key);
    if (!streak) return;
    failures.delete(key);
    if (streak.warned) {
      logger.info?.(
        `[cache] The store answers again for ${describe(pluginInstanceId, handle)}: no longer serving a stale version`,
      );
    }
  }

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

  /** Asks the store (offline: the disk) where a handle points, and records the answer. */
  async function revalidate(
    pluginInstanceId: string,
    handle: string,
    flightSignal: AbortSignal,
  ): Promise<CheckpointRef> {
    const key = handleKey(pluginInstanceId, handle);
    const startedAt = now();
    const startEpoch = epoch;
    counters.revalidations++;
    let ref: CheckpointRef;
    try {
      ref = o.offline
        ? await resolveOffline(pluginInstanceId, handle)
        : await store.resolve({ pluginInstanceId, handle, signal: flightSignal });
      if (!ref || typeof ref.digest !== "string" || !DIGEST.test(ref.digest)) {
        throw new IntegrityError(
          `[cache] The store resolved ${describe(pluginInstanceId, handle)} to a malformed ref`,
        );
      }
    } catch (error) {
      if (flightSignal.aborted) throw error;
      if (NotFoundError.isInstance(error)) {
        // The store answered: the handle is gone. Its version leaves memory (once unused).
        endStreak(pluginInstanceId, handle);
        if (epoch === startEpoch) forgetHandle(pluginInstanceId, handle);
        throw error;
      }
      counters.revalidationErrors++;
      const streak = failures.get(key);
      failures.set(key, {
        error,
        since: streak?.since ?? startedAt,
        retryAt: now() + Math.max(o.revalidateMs, MIN_RETRY_MS),
        warned: streak?.warned ?? false,
      });
      throw error;
    }
    endStreak(pluginInstanceId, handle);
    if (epoch !== startEpoch) {
      const current = handles.get(key);
      return current?.trusted ? current.ref : ref;
    }
    setHandle(pluginInstanceId, handle, { ref, verifiedAt: startedAt, trusted: true });
    return ref;
  }

  /** Starts a revalidation nobody waits for, unless one is in flight already. */
  function revalidateInBackground(pluginInstanceId: string, handle: string): void {
    const key = handleKey(pluginInstanceId, handle);
    if (closed || resolving.has(key)) return;
    try {
      const run = resolving
        .run(key, (signal) => revalidate(pluginInstanceId, handle, signal), {
          signal: background.signal,
          what: `[cache] revalidating ${describe(pluginInstanceId, handle)}`,
        })
        .catch(() => {}); // recorded by revalidate (failures) or thrown to the next caller
      backgroundRuns.add(run);
      run.finally(() => backgroundRuns.delete(run));
    } catch {
      // closed meanwhile
    }
  }

  /** Counts a stale answer, and warns once per failure streak. */
  function servedStale(pluginInstanceId: string, handle: string, known: KnownHandle): void {
    counters.staleServed++;
    const key = handleKey(pluginInstanceId, handle);
    let streak = failures.get(key);
    if (!streak) {
      streak = { error: undefined, since: now(), retryAt: now(), warned: false };
      failures.set(key, streak);
    }
    if (streak.warned) return;
    streak.warned = true;
    logger.warn?.(
      `[cache] Serving the last verified version ${known.ref.digest} of ${describe(pluginInstanceId, handle)} (verified ${ageText(now() - known.verifiedAt)} ago): revalidating it failed: ${errorText(streak.error)}`,
    );
  }

  /** The version of a handle this or another process last recorded on disk, if any. */
  async function lastVerifiedOnDisk(
    pluginInstanceId: string,
    handle: string,
  ): Promise<KnownHandle | undefined> {
    if (!disk) return undefined;
    try {
      const record = await disk.readHandleRecord({ workspace, pluginInstanceId, handle });
      if (!record) return undefined;
      const ref = await disk.readEntryRef({ workspace, pluginInstanceId, digest: record.digest });
      if (!ref) return undefined;
      const age = Math.max(0, Date.now() - record.updatedAt);
      return { ref, verifiedAt: now() - age, trusted: true };
    } catch {
      return undefined;
    }
  }

  /**
   * The version to serve for a handle, and whether it is served stale (its revalidation
   * failed). See the README, "Revalidation", for the rules.
   */
  async function resolveFor(
    pluginInstanceId: string,
    handle: string,
    kindKey: string,
    // Read only when the store is asked: a caller's signal may be created on first use.
    signalOf: () => AbortSignal | undefined,
  ): Promise<{ ref: CheckpointRef; stale: boolean }> {
    const key = handleKey(pluginInstanceId, handle);
    const known = handles.get(key);
    if (known?.trusted) {
      const age = now() - known.verifiedAt;
      if (age < o.revalidateMs) return { ref: known.ref, stale: false };
      const streak = failures.get(key);
      if (streak) {
        // The store is failing: callers do not wait for it; it is retried in the background.
        // Past staleIfErrorMs, callers wait for the store (and get its error).
        if (age < o.revalidateMs + o.staleIfErrorMs) {
          if (now() >= streak.retryAt) revalidateInBackground(pluginInstanceId, handle);
          servedStale(pluginInstanceId, handle, known);
          return { ref: known.ref, stale: true };
        }
      } else if (
        age < o.revalidateMs + o.staleWhileRevalidateMs &&
        memory.has(`${versionPrefix(pluginInstanceId, known.ref.digest)}${kindKey}`)
      ) {
        revalidateInBackground(pluginInstanceId, handle);
        return { ref: known.ref, stale: false };
      }
    }
    const signal = signalOf();
    try {
      const ref = await resolving.run(
        key,
        (flightSignal) => revalidate(pluginInstanceId, handle, flightSignal),
        { signal, what: `[cache] resolving ${describe(pluginInstanceId, handle)}` },
      );
      return { ref, stale: false };
    } catch (error) {
      if (signal?.aborted || NotFoundError.isInstance(error)) throw error;
      const current = handles.get(key);
      if (current) {
        const age = now() - current.verifiedAt;
        // Told meanwhile (notifySaved): fresh, not stale.
        if (current.trusted && age < o.revalidateMs) return { ref: current.ref, stale: false };
        if (age < o.revalidateMs + o.staleIfErrorMs) {
          current.trusted = true; // the next calls serve it at once while the store fails
          servedStale(pluginInstanceId, handle, current);
          return { ref: current.ref, stale: true };
        }
        throw error;
      }
      const onDisk = await lastVerifiedOnDisk(pluginInstanceId, handle);
      if (onDisk && now() - onDisk.verifiedAt < o.revalidateMs + o.staleIfErrorMs) {
        if (!handles.has(key)) handles.set(key, onDisk);
        servedStale(pluginInstanceId, handle, onDisk);
        return { ref: onDisk.ref, stale: true };
      }
      throw error;
    }
  }

  async function loadVersion(
    key: string,
    pluginInstanceId: string,
    ref: CheckpointRef,
    load: ModelLoadOptions<unknown>["load"],
    signal: AbortSignal,
  ): Promise<MemoryEntry> {
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
        workspace,
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
      model = await store.withCheckpoint({ pluginInstanceId, ref, signal, use: runLoad });
      counters.bytesDownloaded += ref.size;
    }
    const entry: MemoryEntry = {
      key,
      model,
      diskLease,
      size: ref.size,
      // Held for the callers waiting on this load: each claims its own lease as the result
      // reaches it, then the flight drops this hold (`onForgotten`).
      leases: 1,
      cached: false,
      unleased: false,
      unleasedAt: 0,
      done: false,
      timer: undefined,
    };
    if (closed) return entry;
    if (!referenced(pluginInstanceId, ref.digest)) {
      logger.debug?.(`[cache] ${key} is no handle's version any more: served, not kept`);
      return entry;
    }
    entry.cached = true;
    memory.set(key, entry);
    if (!memory.has(key)) {
      entry.cached = false;
      logger.warn?.(
        `[cache] ${key} (${ref.size} bytes) is larger than maxBytes (${o.maxBytes}): served but not kept in memory`,
      );
    }
    return entry;
  }

  async function rememberHandle(
    pluginInstanceId: string,
    handle: string,
    digest: string,
  ): Promise<void> {
    if (!disk || o.offline) return;
    const key = handleKey(pluginInstanceId, handle);
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

  /**
   * The fast path of `acquire`: a lease when the handle's version is known and fresh (no store
   * call due), its model is in memory, and the handle is already recorded on disk — memory
   * reads only, nothing awaited, no string built once the handle was served. `undefined`
   * otherwise (and for options `acquire` would refuse): `obtain` does the rest.
   */
  function leaseFromMemory<M>(load: ModelLoadOptions<M>): ModelLease<M> | undefined {
    if (closed || load === null || typeof load !== "object") return undefined;
    const { pluginInstanceId } = load;
    const handle = load.handle ?? DEFAULT_HANDLE;
    if (typeof pluginInstanceId !== "string" || typeof handle !== "string") return undefined;
    // Only validated ids are known, and an id holds no "/": a match means both are valid.
    const key = handleKey(pluginInstanceId, handle);
    const known = handles.get(key);
    if (!known?.trusted || now() - known.verifiedAt >= o.revalidateMs) return undefined;
    const digest = known.ref.digest;
    if (disk && !o.offline && written.get(key) !== digest) return undefined;
    let kindKey: string;
    try {
      kindKey = kindKeyOf(load as ModelLoadOptions<unknown>);
    } catch {
      return undefined;
    }
    if (known.kindKey !== kindKey) {
      known.kindKey = kindKey;
      known.memoryKey = `${versionPrefix(pluginInstanceId, digest)}${kindKey}`;
    }
    const entry = memory.get(known.memoryKey as string);
    if (!entry) return undefined;
    counters.hits++;
    entry.leases++;
    return new EntryLease<M, MemoryEntry>(entry, known.ref, releaseEntry);
  }

  /** Resolves, loads if needed, and takes one lease on the entry (the caller releases it). */
  async function obtain<M>(load: ModelLoadOptions<M>): Promise<{
    entry: MemoryEntry;
    ref: CheckpointRef;
    stale: boolean;
    pluginInstanceId: string;
    handle: string;
  }> {
    assertOpen();
    if (!load || typeof load !== "object")
      throw ValidationError.forField("cache", "options", "expected an object");
    const pluginInstanceId = validateId(load.pluginInstanceId, "pluginInstanceId");
    const handle = validateId(load.handle ?? DEFAULT_HANDLE, "handle");
    if (typeof load.load !== "function")
      throw ValidationError.forField("cache", "load", "must be a function");
    const kindKey = kindKeyOf(load);
    for (;;) {
      const { ref, stale } = await resolveFor(pluginInstanceId, handle, kindKey, () => load.signal);
      const key = `${versionPrefix(pluginInstanceId, ref.digest)}${kindKey}`;
      const hit = memory.get(key);
      if (hit) {
        counters.hits++;
        hit.leases++;
        return { entry: hit, ref, stale, pluginInstanceId, handle };
      }
      const entry = await loading.run(
        key,
        (signal) =>
          loadVersion(
            key,
            pluginInstanceId,
            ref,
            load.load as ModelLoadOptions<unknown>["load"],
            signal,
          ),
        {
          signal: load.signal,
          what: `[cache] loading ${describe(pluginInstanceId, handle)}`,
          onJoin: () => counters.hits++,
          claim: (loaded) => {
            if (!loaded.done) loaded.leases++;
          },
          onForgotten: releaseEntry,
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
      releaseEntry(entry);
      // A stale answer is not recorded: the disk keeps when the version was last verified.
      if (!got.stale) await rememberHandle(got.pluginInstanceId, got.handle, got.ref.digest);
      return entry.model as M;
    },

    async acquire<M>(load: ModelLoadOptions<M>): Promise<ModelLease<M>> {
      // `load` is checked as obtain checks it, even when it is not needed.
      const fast = typeof load?.load === "function" ? leaseFromMemory(load) : undefined;
      if (fast) return fast;
      const got = await obtain(load);
      if (!got.stale) await rememberHandle(got.pluginInstanceId, got.handle, got.ref.digest);
      return new EntryLease<M, MemoryEntry>(got.entry, got.ref, releaseEntry);
    },

    acquireCached<M>(load: ModelLoadOptions<M>): ModelLease<M> | undefined {
      return leaseFromMemory(load);
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
      epoch++;
      if (handle !== undefined) {
        const known = handles.get(handleKey(pluginInstanceId, validateId(handle, "handle")));
        if (known) known.trusted = false;
        return;
      }
      for (const [key, known] of handles) {
        if (key.startsWith(`${pluginInstanceId}/`)) known.trusted = false;
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
      setHandle(pluginInstanceId, handle, { ref, verifiedAt: now(), trusted: true });
    },

    stats() {
      return { ...counters };
    },

    clear() {
      epoch++;
      handles.clear();
      failures.clear();
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
      background.abort();
      handles.clear();
      failures.clear();
      memory.clear();
      await Promise.all([...backgroundRuns]);
      await disk?.close();
    },
  };
  return cache;
}
