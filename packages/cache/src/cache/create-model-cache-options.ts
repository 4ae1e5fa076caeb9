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
   * How long a handle's resolved digest is trusted before the store is asked again. A moved
   * `default` is seen within this time. `0`: ask on every call. Default 5000.
   */
  revalidateMs?: number;
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
  /** Clock for revalidation, in milliseconds (tests). Default `Date.now`. */
  now?: () => number;
  /** Where repairs, broken locks and evictions are reported. Default: warnings to `console.warn`. */
  logger?: CacheLogger;
}
