import type { CacheLoadOptions, CheckpointRef, ModelLease } from "@trainable/core";

export type { ModelLease } from "@trainable/core";

/**
 * What `getOrLoad`, `acquire` and `use` take: `CacheLoadOptions` of `@trainable/core` (which
 * carries `modelClass`, compared by identity, and `config`, compared as canonical JSON).
 */
export type ModelLoadOptions<M> = CacheLoadOptions<M>;

/**
 * A lease on a cache entry: `release()` hands the entry back once, however often it is
 * called — also detached from the lease (`const { model, release } = await cache.acquire(…)`).
 */
export class EntryLease<M, E extends { model: unknown }> implements ModelLease<M> {
  readonly model: M;
  readonly ref: CheckpointRef;
  readonly release: () => void;
  constructor(entry: E, ref: CheckpointRef, giveBack: (entry: E) => void) {
    this.model = entry.model as M;
    this.ref = ref;
    let held: E | undefined = entry;
    this.release = () => {
      if (!held) return;
      const given = held;
      held = undefined;
      giveBack(given);
    };
  }
}
