import type { CheckpointRef } from "./checkpoint-ref.js";
import type { CheckpointStore } from "./checkpoint-store.js";

export interface CacheLoadOptions<M> {
  pluginInstanceId: string;
  /** Defaults to `default`. */
  handle?: string;
  /**
   * Turns an extracted, verified checkpoint folder into a model. Called at most once per
   * version while cached, however many callers ask at once. The folder is read-only shared
   * cache state: read it, do not modify it.
   */
  load: (dir: string, ref: CheckpointRef) => Promise<M>;
  /** Distinguishes models of different classes built from the same checkpoint. */
  kind?: string;
  signal?: AbortSignal;
}

/**
 * The cache port: loaded models by checkpoint version, so a moved handle never serves a stale
 * model. Implemented by `@trainable/cache`'s `createModelCache`.
 */
export interface ModelCache {
  /** The store the cache loads from. */
  readonly store: CheckpointStore;
  getOrLoad<M>(options: CacheLoadOptions<M>): Promise<M>;
  /** Forgets what is known of a handle (or of every handle of the instance). */
  invalidate(options: { pluginInstanceId: string; handle?: string }): void;
  /** Tells the cache a handle now points at `ref` (a save through this process). */
  notifySaved?(options: { pluginInstanceId: string; ref: CheckpointRef }): void;
}
