import { TrainingError } from "../errors/training-error.js";
import { ValidationError } from "../errors/validation-error.js";
import { DEFAULT_HANDLE, validateId } from "../ids/validate-id.js";
import type { CheckpointMetadata, CheckpointRef } from "../ports/checkpoint-ref.js";
import type { CheckpointStore, TransferProgress } from "../ports/checkpoint-store.js";
import type { CacheLoadOptions, ModelCache } from "../ports/model-cache.js";
import type { InvocableResponse } from "../schemas/invocable-response.js";
import type { PluginRequest } from "../schemas/plugin-request.js";
import type { TrainPluginInput } from "../schemas/train-plugin-input.js";
import type { TrainPluginOutput } from "../schemas/train-plugin-output.js";
import {
  type ArgumentSite,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
} from "../validation/check-argument.js";
import type { TrainContext } from "./train-context.js";

type RemoteCall = "saveRemote" | "loadRemote" | "useRemote";
const EXPECTED_OPTIONS = "({ store, pluginInstanceId, handle? })";
/** The argument sites of each call, made once (these checks run on every served request). */
const SITES = Object.fromEntries(
  (["saveRemote", "loadRemote", "useRemote"] as const).map((call) => {
    const site = { component: "core", call };
    return [
      call,
      {
        options: { ...site, expected: EXPECTED_OPTIONS },
        cache: site,
        // Only what the call uses: a store a cache loads through needs no withCheckpoint() here.
        storeWithCache: { ...site, uses: call === "saveRemote" ? ["save"] : [] },
        storeAlone: { ...site, uses: call === "saveRemote" ? ["save"] : ["withCheckpoint"] },
      },
    ];
  }),
) as Record<
  RemoteCall,
  {
    options: ArgumentSite & { expected: string };
    cache: ArgumentSite;
    storeWithCache: ArgumentSite & { uses: string[] };
    storeAlone: ArgumentSite & { uses: string[] };
  }
>;

/** Checks the options of saveRemote/loadRemote/useRemote before anything is done. */
function checkRemoteOptions(
  options: { store?: unknown; cache?: unknown } | undefined,
  call: RemoteCall,
): void {
  const sites = SITES[call];
  checkOptionsObject(options, sites.options);
  checkModelCache(options.cache, sites.cache);
  checkCheckpointStore(options.store, options.cache ? sites.storeWithCache : sites.storeAlone);
}

export interface SaveRemoteOptions {
  store: CheckpointStore;
  pluginInstanceId: string;
  /** Defaults to `default`. */
  handle?: string;
  /** Also move `default` to this checkpoint. Defaults to true. */
  setAsDefault?: boolean;
  metadata?: CheckpointMetadata;
  /** Compare-and-swap on `handle`: the digest it must point at now, `null` for absent. */
  expectedDigest?: string | null;
  /** Tell this cache about the new version at once. */
  cache?: ModelCache | false;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
}

export interface SaveRemoteResult {
  /** The blob key of the checkpoint (the original's `archive_path`). */
  archivePath: string;
  ref: CheckpointRef;
  defaultRef?: CheckpointRef;
  uploadedBytes: number;
}

export interface LoadRemoteOptions<Config> {
  store: CheckpointStore;
  pluginInstanceId: string;
  /** Defaults to `default`. */
  handle?: string;
  /** A model cache. Without one (or with `false`) every call loads afresh. */
  cache?: ModelCache | false;
  /** The plugin instance config, handed to `receiveConfig` before loading. */
  config?: Config;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
}

/** A model of `modelClass` with `config` received, loaded from `dir`. */
async function buildModel<M extends TrainableModel<unknown>>(
  modelClass: TrainableModelClass<M>,
  config: unknown,
  dir: string,
): Promise<M> {
  const model = new modelClass();
  if (config !== undefined) model.receiveConfig(config);
  await model.loadFromFolder(dir);
  return model;
}

/**
 * What `loadRemote` and `useRemote` of `modelClass` ask a model cache for: the model of a
 * checkpoint keyed by the class itself and its config, built (on a miss) by `new modelClass()`,
 * `receiveConfig(config)` and `loadFromFolder`. No `signal`. The ids are taken as given
 * (validate them first). For serving paths that keep these options and lease with
 * `cache.acquireCached` directly, asking for the very models `useRemote` would.
 */
export function modelCacheLoadOptions<M extends TrainableModel<unknown>>(
  modelClass: TrainableModelClass<M>,
  pluginInstanceId: string,
  handle: string,
  config: unknown,
): CacheLoadOptions<M> {
  const options: CacheLoadOptions<M> = {
    pluginInstanceId,
    handle,
    // The name for caches that only read `kind`; ours key by the class's identity and the
    // config's canonical JSON.
    kind: modelClass.name,
    modelClass,
    load: (dir) => buildModel(modelClass, config, dir),
  };
  if (config !== undefined) options.config = config;
  return options;
}

/**
 * Adds `signal` to cache options (see {@link modelCacheLoadOptions}) as a getter reading
 * `from.signal` when the cache reads it (a request's signal may be created on first use, and a
 * memory hit never reads it).
 */
function withSignalOf<O extends object>(options: O, from: { signal?: AbortSignal }): O {
  return Object.defineProperty(options, "signal", {
    enumerable: true,
    configurable: true,
    get: () => from.signal,
  });
}

/** The Config type parameter of a model class. */
export type ConfigOf<M> = M extends TrainableModel<infer C> ? C : never;

/** A concrete model class, as `loadRemote`'s `this`. */
export type TrainableModelClass<M> = (new () => M) & { readonly name: string };

/**
 * A model whose whole state lives in a folder. Subclasses implement `saveToFolder`,
 * `loadFromFolder` and `train` (plus `trainStatus` for asynchronous, external jobs).
 *
 * `saveRemote` stores that folder as a named checkpoint of a plugin instance; the static
 * `loadRemote` builds a model from one, through a cache when given.
 */
export abstract class TrainableModel<Config = unknown> {
  /** The plugin instance config, set by `receiveConfig`. */
  config?: Config;

  /** Stores the plugin instance config, so it is available on load and train. */
  receiveConfig(config: Config): void {
    this.config = config;
  }

  /** Writes 100% of this model's state into `dir` (an empty folder). */
  abstract saveToFolder(dir: string): Promise<void>;

  /** Reads 100% of this model's state from `dir`. Must not modify `dir`. */
  abstract loadFromFolder(dir: string): Promise<void>;

  /** Trains or fine-tunes, parameterized by the `TrainPluginInput`. */
  abstract train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>>;

  /**
   * Checks on a training job running elsewhere. Synchronous models finish in `train` and
   * never get here; the default says so clearly.
   */
  async trainStatus(
    _request: PluginRequest<TrainPluginInput>,
    _context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    throw new TrainingError(
      `[core] ${this.constructor.name} trains synchronously and has no trainStatus: its train() must return a finished task (state "succeeded")`,
    );
  }

  /** Optional: release resources (connections, native memory) when evicted from a cache. */
  dispose?(): void | Promise<void>;

  /** Builds a model from a local checkpoint folder. */
  static async loadFromLocalCheckpoint<M extends TrainableModel<unknown>>(
    this: TrainableModelClass<M>,
    options: { folder: string; config?: ConfigOf<M> },
  ): Promise<M> {
    const model = new this();
    if (options.config !== undefined) model.receiveConfig(options.config);
    await model.loadFromFolder(options.folder);
    return model;
  }

  /** Saves this model's folder as checkpoint `handle` of a plugin instance. */
  async saveRemote(options: SaveRemoteOptions): Promise<SaveRemoteResult> {
    checkRemoteOptions(options, "saveRemote");
    const pluginInstanceId = validateId(options.pluginInstanceId, "pluginInstanceId");
    const handle = validateId(options.handle ?? DEFAULT_HANDLE, "handle");
    if (options.cache && options.cache.store !== options.store) {
      throw ValidationError.forField(
        "core",
        "cache",
        "the cache was created for a different store than the one passed to saveRemote",
      );
    }
    const result = await options.store.save({
      pluginInstanceId,
      handle,
      write: (dir) => this.saveToFolder(dir),
      setAsDefault: options.setAsDefault ?? true,
      metadata: { modelClass: this.constructor.name, ...options.metadata },
      expectedDigest: options.expectedDigest,
      signal: options.signal,
      onProgress: options.onProgress,
    });
    if (options.cache) {
      options.cache.notifySaved?.({ pluginInstanceId, ref: result.ref });
      if (result.defaultRef)
        options.cache.notifySaved?.({ pluginInstanceId, ref: result.defaultRef });
    }
    return {
      archivePath: result.ref.archivePath,
      ref: result.ref,
      defaultRef: result.defaultRef,
      uploadedBytes: result.uploadedBytes,
    };
  }

  /** Loads checkpoint `handle` (default `default`) of a plugin instance as an instance of this class. */
  static async loadRemote<M extends TrainableModel<unknown>>(
    this: TrainableModelClass<M>,
    options: LoadRemoteOptions<ConfigOf<M>>,
  ): Promise<M> {
    checkRemoteOptions(options, "loadRemote");
    const pluginInstanceId = validateId(options.pluginInstanceId, "pluginInstanceId");
    const handle = validateId(options.handle ?? DEFAULT_HANDLE, "handle");
    const cache = options.cache;
    if (cache) {
      if (cache.store !== options.store) {
        throw ValidationError.forField(
          "core",
          "cache",
          "the cache was created for a different store than the one passed to loadRemote",
        );
      }
      return cache.getOrLoad(
        withSignalOf(
          modelCacheLoadOptions(this, pluginInstanceId, handle, options.config),
          options,
        ),
      );
    }
    return options.store.withCheckpoint({
      pluginInstanceId,
      handle,
      signal: options.signal,
      onProgress: options.onProgress,
      use: (dir) => buildModel(this, options.config, dir),
    });
  }

  /**
   * Loads checkpoint `handle` like {@link TrainableModel.loadRemote} and calls `fn` with the
   * model, holding it for the call: a cache never disposes a model while a `useRemote` call
   * still runs (even when a moved handle or eviction takes it out of memory meanwhile), and a
   * model loaded without a cache is disposed when `fn` ends. How request handlers should use
   * models; `loadRemote` leaves a model's lifetime to the garbage collector.
   */
  static async useRemote<M extends TrainableModel<unknown>, R>(
    this: TrainableModelClass<M>,
    options: LoadRemoteOptions<ConfigOf<M>>,
    fn: (model: M) => R | Promise<R>,
  ): Promise<R> {
    checkRemoteOptions(options, "useRemote");
    const cache = options.cache || undefined;
    if (cache?.acquire) {
      const pluginInstanceId = validateId(options.pluginInstanceId, "pluginInstanceId");
      const handle = validateId(options.handle ?? DEFAULT_HANDLE, "handle");
      if (cache.store !== options.store) {
        throw ValidationError.forField(
          "core",
          "cache",
          "the cache was created for a different store than the one passed to useRemote",
        );
      }
      const request = modelCacheLoadOptions(this, pluginInstanceId, handle, options.config);
      // A model in memory is leased without waiting; otherwise the cache asks, loads, waits.
      const lease =
        cache.acquireCached?.(request) ?? (await cache.acquire(withSignalOf(request, options)));
      try {
        return await fn(lease.model);
      } finally {
        lease.release();
      }
    }
    const model = await (this as unknown as typeof TrainableModel).loadRemote.call(this, options);
    try {
      return await fn(model as M);
    } finally {
      if (!cache) await (model as M).dispose?.();
    }
  }
}
