import {
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import {
  CancelledError,
  type CheckpointRef,
  type CheckpointStore,
  IntegrityError,
  NotFoundError,
} from "@trainable/core";
import {
  errno,
  exists,
  HOST,
  isProcessAlive,
  tryLock,
  writeFileAtomic,
} from "@trainable/internal-node";
import type { CacheLogger } from "../cache/cache-logger.js";
import type { ModelCacheStats } from "../cache/model-cache-stats.js";
import { SingleFlight } from "../util/single-flight.js";
import { sleep } from "../util/sleep.js";
import { type EntryMarker, readMarker, writeMarker } from "./entry-marker.js";
import {
  type EntryPaths,
  entryPaths,
  handlePath,
  instanceDir,
  LAYOUT_VERSION,
  ownedName,
  parseOwnedName,
} from "./entry-paths.js";
import { type FileFingerprint, fingerprintOf, settledStats } from "./file-fingerprint.js";
import { manifestProblem } from "./manifest-check.js";
import { type VerifyLevel, verifyEntry } from "./verify-entry.js";

/**
 * Leases per entry folder held by this process, shared by every cache of the process (two
 * caches on one folder must not evict each other's entries): such entries are never evicted.
 * Pin files on disk tell other processes the same.
 */
const leases = new Map<string, number>();

/** Pins and temp folders of other hosts are trusted this long (their pids cannot be checked). */
const FOREIGN_TTL_MS = 24 * 60 * 60 * 1000;

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

/** The fields of a ref that describe its manifest (checked against it by `manifestProblem`). */
const SUMMARY = ["fileCount", "directoryCount", "totalBytes", "manifestSize"] as const;

type Check = { state: "ok" } | { state: "missing" } | { state: "bad"; reason: string };

async function readdirSafe(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return [];
    throw error;
  }
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
  #evicting: Promise<void> | undefined;
  #evictAgain = false;

  constructor(options: DiskCacheOptions) {
    this.root = options.root;
    this.#o = options;
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

  #paths(workspace: string, pluginInstanceId: string, digest: string): EntryPaths {
    return entryPaths({ root: this.root, workspace, pluginInstanceId, digest });
  }

  /**
   * Returns a verified folder holding checkpoint `ref`, downloading it first if needed (never
   * when `offline`: then a missing or damaged entry is a `NotFoundError`). The entry is pinned
   * until the lease is released.
   */
  async acquire(options: {
    workspace: string;
    pluginInstanceId: string;
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
    this.#track(utimes(p.marker, now, now).catch(() => {}));
  }

  async #check(
    p: EntryPaths,
    ref: CheckpointRef,
    offline: boolean,
    locked: boolean,
    signal?: AbortSignal,
  ): Promise<Check> {
    const read = await readMarker(p.marker, ref.digest);
    if (read.state !== "ok") return read;
    const { marker } = read;
    // readMarker checked that the marker's manifest hashes to the digest and agrees with the
    // marker's ref; online, the ref just read from the store must describe it the same way.
    const differs = offline ? undefined : SUMMARY.find((field) => marker.ref[field] !== ref[field]);
    if (differs !== undefined) {
      return {
        state: "bad",
        reason: `its manifest differs from the ref's (${differs} ${marker.ref[differs]}, the ref says ${ref[differs]})`,
      };
    }
    const configured = this.#o.verify;
    // "full" hashes once per cache instance and install, then checks fingerprints.
    const level: VerifyLevel =
      configured === "full" ? (this.#verified.has(marker.token) ? "stat" : "full") : configured;
    const { stats } = this.#o;
    const result = await verifyEntry({
      dir: p.dir,
      files: marker.manifest.files,
      directories: marker.manifest.directories,
      level,
      fingerprints: marker.fingerprints,
      probeDir: p.tmp,
      signal,
      onHashed: (bytes) => {
        stats.verifiedBytes += bytes;
      },
    });
    if (!result.ok) return { state: "bad", reason: result.reason };
    if (level === "full") this.#verified.add(marker.token);
    if (result.fingerprints) await this.#renewFingerprints(p, marker, result.fingerprints, locked);
    return { state: "ok" };
  }

  /**
   * Records fingerprints of files found intact by hashing, so the next check is `lstat`s
   * only. Done under the entry's lock (taken here when free; skipped when another process
   * holds it), and only if the marker is still the same install. Best effort.
   */
  async #renewFingerprints(
    p: EntryPaths,
    marker: EntryMarker,
    fingerprints: FileFingerprint[],
    locked: boolean,
  ): Promise<void> {
    try {
      const lock = locked ? undefined : await tryLock(p.lock, { staleMs: this.#o.lockStaleMs });
      if (!locked && !lock) return;
      try {
        const now = await readMarker(p.marker, marker.digest);
        if (now.state !== "ok" || now.marker.token !== marker.token) return;
        await writeMarker({
          path: p.marker,
          tmpDir: p.tmp,
          ref: now.marker.ref,
          manifest: now.marker.manifest,
          now: new Date(),
          fingerprints,
          previous: now.marker,
        });
        this.#o.logger.debug?.(`[cache] Renewed the file fingerprints of ${p.dir}`);
      } finally {
        await lock?.release();
      }
    } catch (error) {
      this.#o.logger.warn?.(
        `[cache] Could not record file fingerprints for ${p.dir}: ${(error as Error)?.message ?? error}`,
      );
    }
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
      const first = await this.#check(p, ref, offline, false, signal);
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
        const check = await this.#check(p, ref, offline, true, signal);
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
        await this.#removeEntry(p);
        await this.#sweepTmp(p.tmp, p.hex);
        if (offline) {
          throw new NotFoundError(
            `[cache] Offline: checkpoint ${ref.digest} of ${p.key.split("/").slice(0, 2).join("/")} is not in the disk cache (${this.root})` +
              (check.state === "bad"
                ? `; the cached copy was damaged (${check.reason}) and removed`
                : ""),
          );
        }
        if (await this.#download(p, pluginInstanceId, ref, signal)) return;
        // Lost a rename race to a process that ignored the lock: check its entry instead.
      } finally {
        await lock.release();
      }
    }
  }

  /**
   * Downloads into a private temp folder, reads the checkpoint's manifest from the store (for
   * the marker: later checks, online or offline, need no store call), renames the folder into
   * place and writes the marker; false if we lost a race.
   */
  async #download(
    p: EntryPaths,
    pluginInstanceId: string,
    ref: CheckpointRef,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { stats, store } = this.#o;
    await mkdir(p.tmp, { recursive: true });
    const work = join(p.tmp, ownedName(p.hex));
    await mkdir(work);
    let progress = 0;
    let counted = false;
    stats.downloads++;
    try {
      const fetched = await store.fetch({
        pluginInstanceId,
        ref,
        target: join(work, "checkpoint"),
        signal,
        onProgress: (event) => {
          if (event.phase === "download") progress = Math.max(progress, event.bytes);
        },
      });
      stats.bytesDownloaded += ref.size;
      counted = true;
      if (fetched.digest !== ref.digest) {
        throw new IntegrityError(
          `[cache] The store returned ${fetched.digest} when asked for ${ref.digest}`,
        );
      }
      const manifest = await store.readManifest({ pluginInstanceId, ref, signal });
      const problem = manifestProblem(ref, manifest);
      if (problem !== undefined) {
        throw new IntegrityError(
          `[cache] The manifest the store returned for ${ref.digest} ${problem}: refusing to cache it`,
        );
      }
      try {
        await rename(join(work, "checkpoint"), p.dir);
      } catch (error) {
        const code = errno(error);
        if (code === "ENOTEMPTY" || code === "EEXIST") return false;
        throw error;
      }
      // Fingerprints of the files as extracted (verified by the store), for verify: "stat".
      const paths = manifest.files.map((file) => file.path);
      const settled = await settledStats(p.dir, paths, work).catch((error: unknown) => {
        this.#o.logger.warn?.(
          `[cache] Could not fingerprint ${p.dir} (it will be hashed when used): ${(error as Error)?.message ?? error}`,
        );
        return [];
      });
      const fingerprints = settled.flatMap((info, i) =>
        info ? [fingerprintOf(paths[i] as string, info)] : [],
      );
      const marker = await writeMarker({
        path: p.marker,
        tmpDir: work,
        ref,
        manifest,
        now: new Date(),
        fingerprints,
      });
      // The store verified every byte while extracting: no need to hash it again.
      this.#verified.add(marker.token);
      this.scheduleEviction();
      return true;
    } finally {
      if (!counted) stats.bytesDownloaded += progress;
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Removes an entry: marker first (so it is never seen complete), then its folder. */
  async #removeEntry(p: EntryPaths): Promise<void> {
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
  async #sweepTmp(tmp: string, hex?: string): Promise<void> {
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
  async #inUse(p: EntryPaths): Promise<boolean> {
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
    while (this.#evicting) await this.#evicting.catch(() => {});
    return this.#evictPass();
  }

  async #evictPass(): Promise<number> {
    const { stats, logger } = this.#o;
    const entries: Array<{ p: EntryPaths; bytes: number; usedAt: number }> = [];
    const base = join(this.root, LAYOUT_VERSION);
    for (const workspace of await readdirSafe(base)) {
      for (const pluginInstanceId of await readdirSafe(join(base, workspace))) {
        let names: string[];
        try {
          names = await readdirSafe(instanceDir(this.root, workspace, pluginInstanceId));
        } catch {
          continue; // not a valid id: not ours
        }
        await this.#sweepTmp(join(base, workspace, pluginInstanceId, ".tmp"));
        const markers = new Set(
          names.filter((n) => /^[a-f0-9]{64}\.complete\.json$/.test(n)).map((n) => n.slice(0, 64)),
        );
        for (const name of names) {
          if (!/^[a-f0-9]{64}$/.test(name)) continue;
          const p = this.#paths(workspace, pluginInstanceId, `sha256:${name}`);
          if (!markers.has(name)) {
            await this.#removeOrphan(p);
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
    if (total <= this.#o.maxBytes) return 0;
    entries.sort((a, b) => a.usedAt - b.usedAt);
    let evicted = 0;
    for (const { p, bytes } of entries) {
      if (total <= this.#o.maxBytes) break;
      if (await this.#inUse(p)) continue;
      const lock = await tryLock(p.lock, { staleMs: this.#o.lockStaleMs });
      if (!lock) continue;
      try {
        if (await this.#inUse(p)) continue;
        await this.#removeEntry(p);
        await rmdir(p.pins).catch(() => {});
        total -= bytes;
        evicted++;
        stats.diskEvictions++;
        logger.debug?.(`[cache] Evicted ${p.dir} (${bytes} bytes) from the disk cache`);
      } finally {
        await lock.release();
      }
    }
    if (total > this.#o.maxBytes) {
      logger.warn?.(
        `[cache] The disk cache holds ${total} bytes, over diskMaxBytes ${this.#o.maxBytes}: the rest is in use`,
      );
    }
    return evicted;
  }

  /** A folder without a marker and without a live writer is a leftover: remove it. */
  async #removeOrphan(p: EntryPaths): Promise<void> {
    if ((leases.get(p.dir) ?? 0) > 0 || this.#ensure.has(p.key)) return;
    const lock = await tryLock(p.lock, { staleMs: this.#o.lockStaleMs });
    if (!lock) return;
    try {
      if (!(await exists(p.marker))) await this.#removeEntry(p);
    } finally {
      await lock.release();
    }
  }

  /** The last digest a handle was seen at (written by an online cache), if any. */
  async readHandle(options: {
    workspace: string;
    pluginInstanceId: string;
    handle: string;
  }): Promise<string | undefined> {
    return (await this.readHandleRecord(options))?.digest;
  }

  /**
   * The last digest a handle was seen at and when that was recorded (`updatedAt`, ms since
   * the epoch, 0 when unknown): the time the digest was first recorded by the cache that
   * wrote it, so never later than its last verification.
   */
  async readHandleRecord(options: {
    workspace: string;
    pluginInstanceId: string;
    handle: string;
  }): Promise<{ digest: string; updatedAt: number } | undefined> {
    try {
      const text = await readFile(handlePath({ root: this.root, ...options }), "utf8");
      const body = JSON.parse(text) as { digest?: unknown; updatedAt?: unknown };
      const digest = body.digest;
      if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined;
      const updatedAt =
        typeof body.updatedAt === "string" ? Date.parse(body.updatedAt) : Number.NaN;
      return { digest, updatedAt: Number.isFinite(updatedAt) ? updatedAt : 0 };
    } catch (error) {
      if (errno(error) === "ENOENT" || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  /** Records where a handle points, for offline use (atomic write). */
  async writeHandle(options: {
    workspace: string;
    pluginInstanceId: string;
    handle: string;
    digest: string;
  }): Promise<void> {
    const path = handlePath({ root: this.root, ...options });
    const tmp = join(this.#paths(options.workspace, options.pluginInstanceId, options.digest).tmp);
    await mkdir(join(path, ".."), { recursive: true });
    await mkdir(tmp, { recursive: true });
    const file = join(tmp, ownedName("handle"));
    const body = {
      schemaVersion: 1,
      handle: options.handle,
      digest: options.digest,
      updatedAt: new Date().toISOString(),
    };
    await writeFileAtomic(path, JSON.stringify(body), { temp: file });
  }

  /** The ref recorded in an entry's marker, when the entry is complete. */
  async readEntryRef(options: {
    workspace: string;
    pluginInstanceId: string;
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

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return false;
  }
}
