import { type CheckpointRef, type Id, IntegrityError, NotFoundError } from "@trainable/core";
import type { DiskCache } from "../disk/disk-cache.js";
import { SingleFlight } from "../util/single-flight.js";
import type { HandleTable, KnownHandle } from "./handle-table.js";
import type { LoadDeps } from "./load-version.js";
import type { ModelCacheStats } from "./model-cache-stats.js";
import type { ModelMemory } from "./model-memory.js";
import type { ResolvedOptions } from "./resolve-options.js";

export const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** While a handle's revalidations fail, the store is asked again at most this often (or every revalidateMs, if longer). */
const MIN_RETRY_MS = 1000;

/** A handle to resolve: which one, and (for the memory check) the kind of model wanted. */
interface HandleQuery {
  pluginInstanceId: Id;
  handle: Id;
  kindKey: string;
  /** Read only when the store is asked: a caller's signal may be created on first use. */
  signalOf: () => AbortSignal | undefined;
}

/**
 * Where handles point: asks the store (offline: the disk) when what the cache knows is too old,
 * in the background while the known version may still be served, and serves the last
 * verified version while the store fails (see the README, "Revalidation").
 */
export class HandleResolver {
  readonly #o: ResolvedOptions;
  readonly #workspace: Id;
  readonly #disk: DiskCache | undefined;
  readonly #table: HandleTable;
  readonly #memory: ModelMemory;
  readonly #counters: ModelCacheStats;
  readonly #resolving = new SingleFlight<CheckpointRef>();
  /** Aborts background revalidations at close. */
  readonly #background = new AbortController();
  readonly #backgroundRuns = new Set<Promise<unknown>>();
  #closed = false;

  constructor(deps: Omit<LoadDeps, "closed">) {
    this.#o = deps.options;
    this.#workspace = deps.workspace;
    this.#disk = deps.disk;
    this.#table = deps.table;
    this.#memory = deps.memory;
    this.#counters = deps.counters;
  }

  /** Stops background revalidations and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#background.abort();
    await Promise.all([...this.#backgroundRuns]);
  }

  /** The version to serve for a handle, and whether it is served stale (its revalidation failed). */
  async resolve(query: HandleQuery): Promise<{ ref: CheckpointRef; stale: boolean }> {
    const { pluginInstanceId, handle } = query;
    const fresh = this.#fromKnown(query);
    if (fresh) return fresh;
    const signal = query.signalOf();
    try {
      const ref = await this.#resolving.run(
        `${pluginInstanceId}/${handle}`,
        (flightSignal) => this.#revalidate(pluginInstanceId, handle, flightSignal),
        { signal, what: `[cache] resolving ${this.#table.describe(pluginInstanceId, handle)}` },
      );
      return { ref, stale: false };
    } catch (error) {
      if (signal?.aborted || NotFoundError.isInstance(error)) throw error;
      const fallback = await this.#fallback(pluginInstanceId, handle);
      if (fallback) return fallback;
      throw error;
    }
  }

  /** An answer without waiting for the store, when what is known allows one. */
  #fromKnown(query: HandleQuery): { ref: CheckpointRef; stale: boolean } | undefined {
    const { pluginInstanceId, handle } = query;
    const known = this.#table.get(pluginInstanceId, handle);
    if (!known?.trusted) return undefined;
    const o = this.#o;
    const age = o.now() - known.verifiedAt;
    if (age < o.revalidateMs) return { ref: known.ref, stale: false };
    const streak = this.#table.failures.get(`${pluginInstanceId}/${handle}`);
    if (streak) {
      // The store is failing: callers do not wait for it; it is retried in the background.
      // Past staleIfErrorMs, callers wait for the store (and get its error).
      if (age >= o.revalidateMs + o.staleIfErrorMs) return undefined;
      if (o.now() >= streak.retryAt) this.#revalidateInBackground(pluginInstanceId, handle);
      this.#servedStale(pluginInstanceId, handle, known);
      return { ref: known.ref, stale: true };
    }
    const prefix = this.#table.versionPrefix(pluginInstanceId, known.ref.digest);
    if (
      age < o.revalidateMs + o.staleWhileRevalidateMs &&
      this.#memory.has(`${prefix}${query.kindKey}`)
    ) {
      this.#revalidateInBackground(pluginInstanceId, handle);
      return { ref: known.ref, stale: false };
    }
    return undefined;
  }

  /** After a failed revalidation: the last verified version, while `staleIfErrorMs` allows. */
  async #fallback(
    pluginInstanceId: Id,
    handle: Id,
  ): Promise<{ ref: CheckpointRef; stale: boolean } | undefined> {
    const o = this.#o;
    const current = this.#table.get(pluginInstanceId, handle);
    if (current) {
      const age = o.now() - current.verifiedAt;
      // Told meanwhile (notifySaved): fresh, not stale.
      if (current.trusted && age < o.revalidateMs) return { ref: current.ref, stale: false };
      if (age >= o.revalidateMs + o.staleIfErrorMs) return undefined;
      current.trusted = true; // the next calls serve it at once while the store fails
      this.#servedStale(pluginInstanceId, handle, current);
      return { ref: current.ref, stale: true };
    }
    const onDisk = await this.#lastVerifiedOnDisk(pluginInstanceId, handle);
    if (!onDisk || o.now() - onDisk.verifiedAt >= o.revalidateMs + o.staleIfErrorMs) {
      return undefined;
    }
    const key = `${pluginInstanceId}/${handle}`;
    if (!this.#table.known.has(key)) this.#table.known.set(key, onDisk);
    this.#servedStale(pluginInstanceId, handle, onDisk);
    return { ref: onDisk.ref, stale: true };
  }

  #servedStale(pluginInstanceId: Id, handle: Id, known: KnownHandle): void {
    this.#counters.staleServed++;
    this.#table.servedStale(pluginInstanceId, handle, known);
  }

  /** Asks the store (offline: the disk) where a handle points, and records the answer. */
  async #revalidate(
    pluginInstanceId: Id,
    handle: Id,
    flightSignal: AbortSignal,
  ): Promise<CheckpointRef> {
    const o = this.#o;
    const table = this.#table;
    const startedAt = o.now();
    const startEpoch = table.epoch;
    this.#counters.revalidations++;
    let ref: CheckpointRef;
    try {
      ref = o.offline
        ? await this.#resolveOffline(pluginInstanceId, handle)
        : await o.store.resolve({ pluginInstanceId, handle, signal: flightSignal });
      if (!ref || typeof ref.digest !== "string" || !DIGEST.test(ref.digest)) {
        throw new IntegrityError(
          `[cache] The store resolved ${table.describe(pluginInstanceId, handle)} to a malformed ref`,
        );
      }
    } catch (error) {
      if (flightSignal.aborted) throw error;
      if (NotFoundError.isInstance(error)) {
        // The store answered: the handle is gone. Its version leaves memory (once unused).
        table.endStreak(pluginInstanceId, handle);
        if (table.epoch === startEpoch) table.forget(pluginInstanceId, handle);
        throw error;
      }
      this.#counters.revalidationErrors++;
      const retryMs = Math.max(o.revalidateMs, MIN_RETRY_MS);
      table.failed(pluginInstanceId, handle, error, { startedAt, retryMs });
      throw error;
    }
    table.endStreak(pluginInstanceId, handle);
    if (table.epoch !== startEpoch) {
      const current = table.get(pluginInstanceId, handle);
      return current?.trusted ? current.ref : ref;
    }
    table.set(pluginInstanceId, handle, { ref, verifiedAt: startedAt, trusted: true });
    return ref;
  }

  /** Starts a revalidation nobody waits for, unless one is in flight already. */
  #revalidateInBackground(pluginInstanceId: Id, handle: Id): void {
    const key = `${pluginInstanceId}/${handle}`;
    if (this.#closed || this.#resolving.has(key)) return;
    try {
      const run = this.#resolving
        .run(key, (signal) => this.#revalidate(pluginInstanceId, handle, signal), {
          signal: this.#background.signal,
          what: `[cache] revalidating ${this.#table.describe(pluginInstanceId, handle)}`,
        })
        .catch(() => {}); // recorded by revalidate (failures) or thrown to the next caller
      this.#backgroundRuns.add(run);
      run.finally(() => this.#backgroundRuns.delete(run));
    } catch {
      // closed meanwhile
    }
  }

  async #resolveOffline(pluginInstanceId: Id, handle: Id): Promise<CheckpointRef> {
    const dk = this.#disk as DiskCache;
    const workspace = this.#workspace;
    const notCached = (why: string) =>
      new NotFoundError(
        `[cache] Offline: ${this.#table.describe(pluginInstanceId, handle)} is not cached in ${dk.root} (${why}); load it once online first`,
      );
    const digest = await dk.readHandle({ workspace, pluginInstanceId, handle });
    if (!digest) throw notCached("no version of it was ever loaded here");
    const ref = await dk.readEntryRef({ workspace, pluginInstanceId, digest });
    if (!ref) throw notCached(`its last known version ${digest} is no longer on disk`);
    return ref;
  }

  /** The version of a handle this or another process last recorded on disk, if any. */
  async #lastVerifiedOnDisk(pluginInstanceId: Id, handle: Id): Promise<KnownHandle | undefined> {
    const disk = this.#disk;
    if (!disk) return undefined;
    const workspace = this.#workspace;
    try {
      const record = await disk.readHandleRecord({ workspace, pluginInstanceId, handle });
      if (!record) return undefined;
      const ref = await disk.readEntryRef({ workspace, pluginInstanceId, digest: record.digest });
      if (!ref) return undefined;
      const age = Math.max(0, Date.now() - record.updatedAt);
      return { ref, verifiedAt: this.#o.now() - age, trusted: true };
    } catch {
      return undefined;
    }
  }
}
