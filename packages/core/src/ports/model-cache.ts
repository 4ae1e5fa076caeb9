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
  /**
   * The model class (or any object standing for a kind of model), compared by identity: two
   * classes that share a name never share a model instance.
   */
  modelClass?: object;
  /**
   * The config the model is built with (`load` applies it; the cache keys by it), compared as
   * canonical JSON: configs differing only in key order share an instance. Must be plain JSON.
   */
  config?: unknown;
  signal?: AbortSignal;
}

/**
 * A loaded model held for one use. While any lease on a model is unreleased, the cache never
 * calls its `dispose()`; a model that has left memory (evicted, replaced by a moved handle)
 * is disposed when its last lease is released. Release exactly once, when the use is done.
 */
export interface ModelLease<M> {
  readonly model: M;
  /** The checkpoint the model was built from (the version the handle resolved to). */
  readonly ref: CheckpointRef;
  release(): void;
}

/**
 * The cache port: loaded models by checkpoint version, so a moved handle never serves a stale
 * model. Implemented by `@trainable/cache`'s `createModelCache`.
 */
export interface ModelCache {
  /** The store the cache loads from. */
  readonly store: CheckpointStore;
  getOrLoad<M>(options: CacheLoadOptions<M>): Promise<M>;
  /** `getOrLoad`, holding the model until `release()` (see {@link ModelLease}). Optional. */
  acquire?<M>(options: CacheLoadOptions<M>): Promise<ModelLease<M>>;
  /**
   * `acquire` answered synchronously when it needs nothing but memory: the handle's version
   * is known and needs no store call now, its model is loaded, and nothing has to be written.
   * Returns `undefined` whenever `acquire` would have to wait (ask the store, load, write),
   * and for options `acquire` would refuse: then call `acquire`, which does the work or
   * throws. Never reads `load` or `signal`. Optional: the serving fast path of `useRemote`
   * and the plugin runtime.
   */
  acquireCached?<M>(options: CacheLoadOptions<M>): ModelLease<M> | undefined;
  /** Forgets what is known of a handle (or of every handle of the instance). */
  invalidate(options: { pluginInstanceId: string; handle?: string }): void;
  /** Tells the cache a handle now points at `ref` (a save through this process). */
  notifySaved?(options: { pluginInstanceId: string; ref: CheckpointRef }): void;
}
