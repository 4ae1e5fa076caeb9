import type { CacheLoadOptions, CheckpointRef, ModelLease } from "@trainable/core";

export type { ModelLease } from "@trainable/core";

/**
 * What `getOrLoad`, `acquire` and `use` take: `CacheLoadOptions` of `@trainable/core` (which
 * carries `modelClass`, compared by identity, and `config`, compared as canonical JSON).
 */
export type ModelLoadOptions<M> = CacheLoadOptions<M>;

/**
 * A lease on a cache entry: `release()` hands the entry back once, however often it is
 * called. A class (no closure per lease): every served request takes one.
 */
export class EntryLease<M, E extends { model: unknown }> implements ModelLease<M> {
  readonly model: M;
  readonly ref: CheckpointRef;
  #entry: E | undefined;
  readonly #release: (entry: E) => void;
  constructor(entry: E, ref: CheckpointRef, release: (entry: E) => void) {
    this.model = entry.model as M;
    this.ref = ref;
    this.#entry = entry;
    this.#release = release;
  }
  release(): void {
    const entry = this.#entry;
    if (!entry) return;
    this.#entry = undefined;
    this.#release(entry);
  }
}
