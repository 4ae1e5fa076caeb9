/** Counters since the cache was created. Every field only grows. */
export interface ModelCacheStats {
  /** `getOrLoad` calls served from memory, including calls that joined a load in flight. */
  hits: number;
  /** `getOrLoad` calls that started a load (memory miss). */
  misses: number;
  /** Memory misses served from a verified disk entry (no download). */
  diskHits: number;
  /** Checkpoint downloads started (`store.fetch` calls). */
  downloads: number;
  /** Archive bytes downloaded (the ref's `size` per completed download). */
  bytesDownloaded: number;
  /** `load` (e.g. `loadFromFolder`) calls. */
  loads: number;
  /** `load` calls that threw (never cached). */
  loadErrors: number;
  /** Models dropped from memory to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /**
   * Models whose `dispose()` the cache called: once out of memory (evicted, replaced by a
   * moved handle, cleared) and released by their last lease.
   */
  disposals: number;
  /** Disk entries removed to stay within `diskMaxBytes`. */
  diskEvictions: number;
  /** Partial, corrupt or tampered disk entries detected and removed. */
  repairs: number;
  /** Handle resolutions sent to the store (or, offline, to the disk), background ones included. */
  revalidations: number;
  /** Resolutions that failed with anything but a `NotFoundError` (store unreachable, timeouts…). */
  revalidationErrors: number;
  /**
   * Calls answered with the last verified version of a handle because asking the store
   * failed (see `staleIfErrorMs`).
   */
  staleServed: number;
  /**
   * Bytes of disk-entry files hashed to verify them (`verify: "full"`, or `"stat"` when a
   * file's fingerprint changed). 0 while every entry's fingerprints match.
   */
  verifiedBytes: number;
}

export function emptyStats(): ModelCacheStats {
  return {
    hits: 0,
    misses: 0,
    diskHits: 0,
    downloads: 0,
    bytesDownloaded: 0,
    loads: 0,
    loadErrors: 0,
    evictions: 0,
    disposals: 0,
    diskEvictions: 0,
    repairs: 0,
    revalidations: 0,
    revalidationErrors: 0,
    staleServed: 0,
    verifiedBytes: 0,
  };
}
