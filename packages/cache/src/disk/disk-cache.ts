import { mkdir, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CancelledError,
  type CheckpointRef,
  type CheckpointStore,
  type Id,
  NotFoundError,
} from "@trainable/core";
import { exists, tryLock } from "@trainable/internal-node";
import type { CacheLogger } from "../cache/cache-logger.js";
import type { ModelCacheStats } from "../cache/model-cache-stats.js";
import { SingleFlight } from "../util/single-flight.js";
import { sleep } from "../util/sleep.js";
import { type CheckDeps, checkEntry } from "./check-entry.js";
import { evictPass } from "./disk-eviction.js";
import { downloadEntry } from "./download-entry.js";
import { leases, removeEntry, sweepTmp } from "./entry-files.js";
import { readMarker } from "./entry-marker.js";
import { type EntryPaths, entryPaths, ownedName } from "./entry-paths.js";
import { readHandleRecord, writeHandle } from "./handle-records.js";
import type { VerifyLevel } from "./verify-entry.js";

export interface DiskCacheOptions {
  root: string;
  store: CheckpointStore;
  maxBytes: number;
  verify: VerifyLevel;
  lockStaleMs: number;
  pollMs: { min: number; max: number };
  logger: CacheLogger;
  stats: ModelCacheStats;
}

/** A verified entry in use: `release()` it when the model built from it is dropped. */
export interface DiskLease {
  dir: string;
  ref: CheckpointRef;
  release(): void;
}

/**
 * The on-disk half of the cache: extracted checkpoints by digest, shared by every process
 * using the same folder. See the README ("Disk layout", "Guarantees").
 */
export class DiskCache {
  readonly root: string;
  readonly #o: DiskCacheOptions;
  readonly #ensure = new SingleFlight<void>();
  /** Marker tokens whose files this process has hashed (or downloaded) itself. */
  readonly #verified = new Set<string>();
  readonly #pending = new Set<Promise<unknown>>();
  /** The last touch of each entry's marker, so touches land in the order they were asked. */
  readonly #touches = new Map<string, Promise<void>>();
  #evicting: Promise<void> | undefined;
  #evictAgain = false;

  readonly #checkDeps: CheckDeps;

  constructor(options: DiskCacheOptions) {
    this.root = options.root;
    this.#o = options;
    this.#checkDeps = { ...options, verified: this.#verified };
  }

  #track(promise: Promise<unknown>): void {
    const p = promise.catch((error: unknown) => {
      this.#o.logger.warn?.(
        `[cache] disk bookkeeping failed: ${(error as Error)?.message ?? error}`,
      );
    });
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  #paths(workspace: Id, pluginInstanceId: Id, digest: string): EntryPaths {
    return entryPaths({ root: this.root, workspace, pluginInstanceId, digest });
  }

  /**
   * Returns a verified folder holding checkpoint `ref`, downloading it first if needed (never
   * when `offline`: then a missing or damaged entry is a `NotFoundError`). The entry is pinned
   * until the lease is released.
   */
  async acquire(options: {
    workspace: Id;
    pluginInstanceId: Id;
    ref: CheckpointRef;
    offline: boolean;
    signal?: AbortSignal;
  }): Promise<DiskLease> {
    const p = this.#paths(options.workspace, options.pluginInstanceId, options.ref.digest);
    const pinFile = await this.#pin(p);
    try {
      await this.#ensure.run(
        p.key,
        (signal) =>
          this.#ensureEntry(p, options.pluginInstanceId, options.ref, options.offline, signal),
        { signal: options.signal, what: "[cache] checkpoint download" },
      );
    } catch (error) {
      this.#unpin(p, pinFile);
      throw error;
    }
    this.#touch(p);
    let released = false;
    return {
      dir: p.dir,
      ref: options.ref,
      release: () => {
        if (released) return;
        released = true;
        this.#unpin(p, pinFile);
      },
    };
  }

  async #pin(p: EntryPaths): Promise<string> {
    leases.set(p.dir, (leases.get(p.dir) ?? 0) + 1);
    const file = join(p.pins, ownedName("pin"));
    try {
      await mkdir(p.pins, { recursive: true });
      await writeFile(file, "");
    } catch (error) {
      this.#unpin(p, undefined);
      throw error;
    }
    return file;
  }

  #unpin(p: EntryPaths, pinFile: string | undefined): void {
    const left = (leases.get(p.dir) ?? 1) - 1;
    if (left <= 0) leases.delete(p.dir);
    else leases.set(p.dir, left);
    if (pinFile) this.#track(unlink(pinFile).catch(() => {}));
    this.#touch(p);
  }

  /**
   * Marks an entry as used now: its marker's mtime is the LRU clock of the disk cache (real
   * time, shared with other processes, never the injected clock).
   */
  #touch(p: EntryPaths): void {
    const now = new Date();
    // One after the other per entry: two utimes in flight may land in any order, and an
    // earlier time landing last made a just-released entry look older than it is.
    const previous = this.#touches.get(p.marker) ?? Promise.resolve();
    const next = previous.then(() => utimes(p.marker, now, now)).catch(() => {});
    this.#touches.set(p.marker, next);
    void next.then(() => {
      if (this.#touches.get(p.marker) === next) this.#touches.delete(p.marker);
    });
    this.#track(next);
  }

  async #ensureEntry(
    p: EntryPaths,
    pluginInstanceId: string,
    ref: CheckpointRef,
    offline: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const { stats, logger } = this.#o;
    let delay = this.#o.pollMs.min;
    for (;;) {
      CancelledError.throwIfAborted(signal, "[cache] checkpoint download");
      const first = await checkEntry(this.#checkDeps, { p, ref, offline, locked: false }, signal);
      if (first.state === "ok") {
        stats.diskHits++;
        return;
      }
      await mkdir(p.instanceDir, { recursive: true });
      const lock = await tryLock(p.lock, {
        staleMs: this.#o.lockStaleMs,
        onBreak: (_info, reason) =>
          logger.warn?.(`[cache] Broke the stale lock ${p.lock}: ${reason}`),
      });
      if (!lock) {
        // Another process is downloading this version: wait for its marker.
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.#o.pollMs.max);
        continue;
      }
      try {
        const check = await checkEntry(this.#checkDeps, { p, ref, offline, locked: true }, signal);
        if (check.state === "ok") {
          stats.diskHits++;
          return;
        }
        if (check.state === "bad") {
          stats.repairs++;
          logger.warn?.(`[cache] Removing damaged cache entry ${p.dir}: ${check.reason}`);
        } else if (await exists(p.dir)) {
          stats.repairs++;
          logger.warn?.(`[cache] Removing incomplete cache entry ${p.dir} (no completion marker)`);
        }
        await removeEntry(p);
        await sweepTmp(p.tmp, p.hex);
        if (offline) {
          throw new NotFoundError(
            `[cache] Offline: checkpoint ${ref.digest} of ${p.key.split("/").slice(0, 2).join("/")} is not in the disk cache (${this.root})` +
              (check.state === "bad"
                ? `; the cached copy was damaged (${check.reason}) and removed`
                : ""),
          );
        }
        const marker = await downloadEntry(this.#o, { p, pluginInstanceId, ref }, signal);
        if (marker) {
          // The store verified every byte while extracting: no need to hash it again.
          this.#verified.add(marker.token);
          this.scheduleEviction();
          return;
        }
        // Lost a rename race to a process that ignored the lock: check its entry instead.
      } finally {
        await lock.release();
      }
    }
  }

  /** Runs a disk eviction pass soon (coalesced); errors are logged. */
  scheduleEviction(): void {
    if (this.#evicting) {
      this.#evictAgain = true;
      return;
    }
    const run = async () => {
      do {
        this.#evictAgain = false;
        await this.#evictPass();
      } while (this.#evictAgain);
    };
    this.#evicting = run().finally(() => {
      this.#evicting = undefined;
    });
    this.#track(this.#evicting);
  }

  /**
   * Evicts least-recently-used entries until the cache holds at most `maxBytes` (extracted
   * bytes), skipping entries in use by this process, pinned by a live process or being
   * written. Also removes orphaned folders (no marker) and dead processes' temp folders.
   * Returns the number of entries evicted.
   */
  async evict(): Promise<number> {
    // Pin removals and touches of leases released before this call land first: the pass sees
    // them (a released entry is not "in use" because its pin file is still being unlinked).
    await Promise.allSettled([...this.#pending]);
    while (this.#evicting) await this.#evicting.catch(() => {});
    return this.#evictPass();
  }

  #evictPass(): Promise<number> {
    return evictPass({ ...this.#o, ensuring: (key) => this.#ensure.has(key) });
  }

  /** The last digest a handle was seen at (written by an online cache), if any. */
  async readHandle(options: {
    workspace: Id;
    pluginInstanceId: Id;
    handle: Id;
  }): Promise<string | undefined> {
    return (await this.readHandleRecord(options))?.digest;
  }

  /**
   * The last digest a handle was seen at and when that was recorded (`updatedAt`, ms since
   * the epoch, 0 when unknown): the time the digest was first recorded by the cache that
   * wrote it, so never later than its last verification.
   */
  readHandleRecord(options: {
    workspace: Id;
    pluginInstanceId: Id;
    handle: Id;
  }): Promise<{ digest: string; updatedAt: number } | undefined> {
    return readHandleRecord({ root: this.root, ...options });
  }

  /** Records where a handle points, for offline use (atomic write). */
  writeHandle(options: {
    workspace: Id;
    pluginInstanceId: Id;
    handle: Id;
    digest: string;
  }): Promise<void> {
    return writeHandle({ root: this.root, ...options });
  }

  /** The ref recorded in an entry's marker, when the entry is complete. */
  async readEntryRef(options: {
    workspace: Id;
    pluginInstanceId: Id;
    digest: string;
  }): Promise<CheckpointRef | undefined> {
    const p = this.#paths(options.workspace, options.pluginInstanceId, options.digest);
    const read = await readMarker(p.marker, options.digest);
    return read.state === "ok" ? read.marker.ref : undefined;
  }

  /** Waits for pending bookkeeping (pin removals, touches, an eviction pass). */
  async close(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
