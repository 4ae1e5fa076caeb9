import type { CacheLoadOptions, CheckpointRef } from "@trainable/core";

/**
 * `CacheLoadOptions` of `@trainable/core` plus what tells models built from one checkpoint
 * apart, beyond the string `kind`. Every field is optional: callers of the core port keep
 * working unchanged.
 */
export interface ModelLoadOptions<M> extends CacheLoadOptions<M> {
  /**
   * The model class (or any object standing for a kind of model), compared by identity: two
   * classes that share a name never share a model instance. Combined with `kind` when both
   * are given.
   */
  modelClass?: object;
  /**
   * The config the model is built with (the caller's `load` applies it; the cache only keys
   * by it), compared as canonical JSON: configs differing only in key order share an instance.
   * Must be plain JSON (properties whose value is `undefined` are ignored); anything else is a
   * `ValidationError` naming `config`.
   */
  config?: unknown;
}

/**
 * A loaded model held for one use. While any lease on a model is unreleased, the cache never
 * calls its `dispose()`; a model that has left memory (evicted, replaced by a moved handle,
 * cleared, closed) is disposed when its last lease is released. Release exactly once, when
 * the request using the model is done (further calls do nothing).
 */
export interface ModelLease<M> {
  readonly model: M;
  /** The checkpoint the model was built from (the version the handle resolved to). */
  readonly ref: CheckpointRef;
  release(): void;
}
