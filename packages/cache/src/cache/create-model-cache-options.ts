import type { CheckpointStore } from "@trainable/core";
import type { VerifyLevel } from "../disk/verify-entry.js";
import type { CacheLogger } from "./cache-logger.js";

/** Options of {@link createModelCache}. Checked when the cache is created. */
export interface CreateModelCacheOptions {
  /** The store models are loaded from (its `workspace` is part of every key). */
  store: CheckpointStore;
  /** Loaded models kept in memory. Default 16. */
  maxEntries?: number;
  /** Memory budget in bytes, counting each model as its checkpoint's `size`. Default: none. */
  maxBytes?: number;
  /**
   * How long a handle's resolved digest is trusted before the store is asked again. `0`: ask
   * on every call. Default 5000. See `staleWhileRevalidateMs` for when callers wait for the
   * answer, and the README ("Revalidation") for exactly when a moved `default` is seen.
   */
  revalidateMs?: number;
  /**
   * For this long after `revalidateMs` has run out, a call whose model is already in memory is
   * answered at once with the known version while the store is asked in the background; the
   * calls after that answer get the new version. Past it (or when the model is not in memory)
   * callers wait for the store. `0`: always wait (the behaviour of earlier versions). Default
   * 60000, or 0 when `revalidateMs` is 0 (asking on every call then means waiting for every
   * answer).
   */
  staleWhileRevalidateMs?: number;
  /**
   * For this long after `revalidateMs` has run out, when asking the store fails with anything
   * but a `NotFoundError` (unreachable, timeouts, a malformed ref…), the last verified version
   * of the handle (in memory, else recorded on disk) is served instead of throwing
   * (`stats().staleServed`, one `logger.warn` per handle per failure streak). A
   * `NotFoundError` (the handle was deleted) is always thrown. `0`: never serve stale on
   * error. Default `Infinity` (keep serving for as long as the store fails).
   */
  staleIfErrorMs?: number;
  /**
   * A model handed out by `getOrLoad` (no lease: the cache cannot know when its caller is
   * done with it) is disposed once it has left memory, no lease holds it, and this long has
   * passed since `getOrLoad` last returned it. Default `Infinity`: never disposed by the cache
   * (left to the garbage collector). Models obtained with `acquire`/`use` are disposed as soon
   * as they have left memory and their last lease is released, whatever this says.
   */
  disposeUnleasedAfterMs?: number;
  /**
   * Folder of the disk cache of extracted checkpoints. Default {@link defaultCacheDir}.
   * `false`: no disk cache (every memory miss downloads into a temp folder, removed after
   * `load`; offline mode is then unavailable).
   */
  diskDir?: string | false;
  /** Disk budget in bytes (extracted sizes); least recently used entries go first. Default 20 GiB. */
  diskMaxBytes?: number;
  /** Never call the store: serve the last known version of a handle from disk. Default false. */
  offline?: boolean;
  /**
   * How a disk entry is checked before use (see the README, "Verification levels"):
   * - `"stat"` (default): each file's `lstat` fingerprint (size, inode, mtime, ctime, recorded
   *   when its content was verified) must match, and no extra file may be present — O(files)
   *   syscalls at any checkpoint size. Detects any change made through the file system since
   *   (ctime cannot be set back); a file whose fingerprint changed is hashed, and the entry is
   *   repaired if its content differs. Does not detect silent media corruption.
   * - `"size"`: sizes only (a few `lstat`s; misses a same-size change).
   * - `"full"`: sha256 of every file the first time this cache uses the entry (~1.4 s/GiB),
   *   then as `"stat"`.
   * Entries this cache downloads itself were verified by the store while extracting.
   */
  verify?: VerifyLevel;
  /** A download lock not refreshed for this long is broken (its holder refreshes it every quarter). Default 30000. */
  lockStaleMs?: number;
  /** Longest pause between checks while another process downloads the same version. Default 500. */
  pollMs?: number;
  /** Clock for revalidation and staleness, in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
  /**
   * Where repairs, broken locks, evictions and stale serving are reported. Default: warnings
   * to `console.warn`.
   */
  logger?: CacheLogger;
}
