import { LRUCache } from "lru-cache";
import type { DiskLease } from "../disk/disk-cache.js";
import type { CacheLogger } from "./cache-logger.js";
import type { ModelCacheStats } from "./model-cache-stats.js";

/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A loaded model in (or leaving) memory. */
export interface MemoryEntry {
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

/** A fresh entry, held once for the callers waiting on the load that made it. */
export function newEntry(
  key: string,
  loaded: { model: unknown; diskLease: DiskLease | undefined; size: number },
): MemoryEntry {
  return {
    key,
    ...loaded,
    leases: 1,
    cached: false,
    unleased: false,
    unleasedAt: 0,
    done: false,
    timer: undefined,
  };
}

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
 * The loaded models: an LRU by memory key, and the rule for letting a model go — disposed
 * once it is out of memory and its last lease is released (a model handed out by `getOrLoad`
 * only after `disposeUnleasedAfterMs`).
 */
export class ModelMemory {
  readonly #lru: LRUCache<string, MemoryEntry>;
  readonly #o: {
    disposeUnleasedAfterMs: number;
    logger: CacheLogger;
    counters: ModelCacheStats;
    warn: (what: string) => (error: unknown) => void;
  };

  constructor(options: {
    maxEntries: number;
    maxBytes: number | undefined;
    disposeUnleasedAfterMs: number;
    logger: CacheLogger;
    counters: ModelCacheStats;
    warn: (what: string) => (error: unknown) => void;
  }) {
    this.#o = options;
    const { counters, logger } = options;
    this.#lru = new LRUCache<string, MemoryEntry>({
      max: options.maxEntries,
      ...(options.maxBytes === undefined
        ? {}
        : {
            maxSize: options.maxBytes,
            sizeCalculation: (entry: MemoryEntry) => Math.max(1, entry.size),
          }),
      dispose: (entry, key, reason) => {
        if (reason === "evict") {
          counters.evictions++;
          logger.debug?.(`[cache] Evicted ${key} from memory`);
        }
        entry.cached = false;
        this.settle(entry);
      },
    });
  }

  get(key: string): MemoryEntry | undefined {
    return this.#lru.get(key);
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  /** Keeps `entry` in memory; false when it is larger than the whole budget (not kept). */
  keep(entry: MemoryEntry): boolean {
    entry.cached = true;
    this.#lru.set(entry.key, entry);
    if (this.#lru.has(entry.key)) return true;
    entry.cached = false;
    return false;
  }

  /** Drops every model whose key starts with `prefix` (each let go at its last release). */
  dropPrefix(prefix: string, why: string): void {
    for (const key of [...this.#lru.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.#lru.delete(key);
      this.#o.logger.debug?.(`[cache] Released ${key}: ${why}`);
    }
  }

  clear(): void {
    this.#lru.clear();
  }

  /** Gives back one lease. */
  release(entry: MemoryEntry): void {
    entry.leases--;
    this.settle(entry);
  }

  /**
   * Lets an entry go once nothing can use it: out of memory and no lease. A model handed out
   * without a lease is disposed only after `disposeUnleasedAfterMs` (default: never).
   */
  settle(entry: MemoryEntry): void {
    if (entry.done || entry.cached || entry.leases > 0) return;
    if (entry.unleased && this.#waitUnleased(entry)) return;
    entry.done = true;
    this.#o.counters.disposals++;
    disposeModel(entry.model, this.#o.warn(`dispose() of ${entry.key} failed`));
    entry.diskLease?.release();
  }

  /** True when an unleased entry is not to be disposed now (never, or later by a timer). */
  #waitUnleased(entry: MemoryEntry): boolean {
    const wait = entry.unleasedAt + this.#o.disposeUnleasedAfterMs - Date.now();
    if (!Number.isFinite(wait)) {
      entry.done = true;
      entry.diskLease?.release();
      this.#o.logger.debug?.(
        `[cache] ${entry.key} left memory; getOrLoad handed it out without a lease, so it is not disposed`,
      );
      return true;
    }
    if (wait <= 0) return false;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined;
        this.settle(entry);
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    entry.timer.unref?.();
    return true;
  }
}
