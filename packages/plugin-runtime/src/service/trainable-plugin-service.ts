import {
  type CacheLoadOptions,
  type ConfigOf,
  DEFAULT_HANDLE,
  type InvocableResponse,
  isValidId,
  type ModelLease,
  modelCacheLoadOptions,
  type PluginRequest,
  parseWith,
  TrainableModel,
  type TrainContext,
  type TrainingParameterPluginInput,
  type TrainingParameterPluginOutput,
  type TrainPluginInput,
  type TrainPluginOutput,
  trainingParametersFromInput,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { z } from "zod";
import { withSignalFrom } from "../util/signal-from.js";
import type { AnyTrainablePluginService } from "./any-trainable-plugin-service.js";
import type { ModelClass } from "./model-class.js";
import type { PluginRunContext } from "./plugin-run-context.js";
import { PluginService } from "./plugin-service.js";

const marker = Symbol.for("trainable.runtime.TrainablePluginService");

/**
 * A plugin whose behaviour comes from a trained {@link TrainableModel}.
 *
 * - `run` loads the instance's model (checkpoint `default` unless a handle is asked) with
 *   `modelClass.loadRemote` through the cache, and calls `runWithModel`.
 * - `getTrainingParameters`, `train`, `trainStatus` and `cancelTraining` are the training
 *   lifecycle hooks; the defaults echo the user's parameters and delegate to the model.
 */
export abstract class TrainablePluginService<
  In,
  Out,
  Config,
  Model extends TrainableModel<Config>,
> extends PluginService<In, Out> {
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read through `isInstance`
  private readonly [marker] = true;

  /** The zod schema of a plugin instance's config, checked when an instance is created. */
  abstract readonly configSchema: z.ZodType<Config>;
  /** The model class `run` and training instantiate. */
  abstract readonly modelClass: ModelClass<Model>;

  /** Answers a request with a loaded model. */
  abstract runWithModel(
    request: PluginRequest<In>,
    model: Model,
    context: PluginRunContext<Config>,
  ): Promise<Out>;

  /** True when `value` is a `TrainablePluginService` (works across two copies of the package). */
  static isInstance(value: unknown): value is AnyTrainablePluginService {
    return (
      value != null &&
      typeof value === "object" &&
      marker in value &&
      (value as Record<symbol, unknown>)[marker] === true
    );
  }

  /**
   * Validates an instance config with `configSchema`; throws a `ValidationError` naming bad
   * fields. A missing config is `{}`, so the schema's defaults apply.
   */
  parseConfig(config: unknown): Config {
    return parseWith(this.configSchema, config ?? {}, `${this.pluginName} config`, "runtime");
  }

  /** A fresh, untrained model that has received `config`. */
  createModel(config: Config): Model {
    const model = new this.modelClass();
    model.receiveConfig(config);
    return model;
  }

  /** Loads the model `run` serves, through the cache when one is given. */
  async loadModel(request: PluginRequest<In>, context: PluginRunContext<Config>): Promise<Model> {
    return this.modelClass.loadRemote<Model>(this.#loadOptions(request, context));
  }

  /**
   * Runs `runWithModel` on the instance's model, held for the call (the cache never disposes
   * a model a request still uses; without a cache the model is disposed afterwards). A
   * subclass that overrides `loadModel` is served through it instead.
   */
  async run(request: PluginRequest<In>, context: PluginRunContext<Config>): Promise<Out> {
    if (this.loadModel !== TrainablePluginService.prototype.loadModel) {
      return await this.runWithModel(request, await this.loadModel(request, context), context);
    }
    const lease = this.#leaseFromMemory(context);
    if (lease) {
      try {
        return await this.runWithModel(request, lease.model, context);
      } finally {
        lease.release();
      }
    }
    // `return await`: returning the promise from an async function costs more ticks.
    return await this.modelClass.useRemote<Model, Out>(
      this.#loadOptions(request, context),
      (model) => this.runWithModel(request, model, context),
    );
  }

  /** What served instances ask the cache for, by instance object, then handle. */
  readonly #cacheRequests = new WeakMap<object, Map<string, CacheLoadOptions<Model>>>();

  /**
   * The instance's model when the cache has it in memory, leased without waiting
   * (`cache.acquireCached`): the lease `useRemote` would take, without its per-call checks and
   * options (kept per instance and handle). `undefined` when that is not certain — another
   * store, a model class with its own `useRemote`, no instance — or the cache would have to
   * wait: `useRemote` then does it all, checks included.
   */
  #leaseFromMemory(context: PluginRunContext<Config>): ModelLease<Model> | undefined {
    const { cache, instance } = context;
    if (!cache || !instance || typeof cache.acquireCached !== "function") return undefined;
    // What useRemote checks first (it throws for these): a cache of this store, a real cache.
    if (!context.store || cache.store !== context.store) return undefined;
    if (typeof cache.getOrLoad !== "function" || typeof cache.invalidate !== "function") {
      return undefined;
    }
    const modelClass = this.modelClass;
    if (modelClass.useRemote !== TrainableModel.useRemote) return undefined;
    const handle = context.handle ?? instance.handle ?? DEFAULT_HANDLE;
    let byHandle = this.#cacheRequests.get(instance);
    let options = byHandle?.get(handle);
    if (
      options?.pluginInstanceId !== instance.id ||
      options.config !== instance.config ||
      options.modelClass !== modelClass
    ) {
      if (!isValidId(instance.id) || !isValidId(handle)) return undefined;
      options = modelCacheLoadOptions<Model>(modelClass, instance.id, handle, instance.config);
      if (!byHandle) {
        byHandle = new Map();
        this.#cacheRequests.set(instance, byHandle);
      }
      // Handles come from requests (`?handle=`): a bounded memo.
      if (byHandle.size >= 100) byHandle.clear();
      byHandle.set(handle, options);
    }
    return cache.acquireCached(options);
  }

  #loadOptions(request: PluginRequest<In>, context: PluginRunContext<Config>) {
    const store = context.store;
    if (!store) {
      throw new ValidationError(
        `[runtime] ${this.pluginName} needs a checkpoint store to load its model: pass "store"`,
      );
    }
    const pluginInstanceId = validateId(
      context.instance?.id ?? request.context?.pluginInstanceId,
      "context.pluginInstanceId",
    );
    // The signal is read when needed (the HTTP app creates a request's signal on first use).
    return withSignalFrom(
      {
        store,
        pluginInstanceId,
        handle: context.handle ?? context.instance?.handle ?? DEFAULT_HANDLE,
        cache: context.cache ?? false,
        config: context.instance?.config as ConfigOf<Model> | undefined,
      },
      context,
    );
  }

  /**
   * Decides the training parameters. The default echoes the user's; override to amend them
   * (e.g. pick epochs or a learning rate). The engine merges the answer into the input.
   */
  async getTrainingParameters(
    request: PluginRequest<TrainingParameterPluginInput>,
  ): Promise<TrainingParameterPluginOutput> {
    const input = request.data;
    if (!input) throw ValidationError.forField("runtime", "data", "is required");
    return trainingParametersFromInput(input);
  }

  /** Trains `model` (fresh, config received). The default calls `model.train`. */
  async train(
    request: PluginRequest<TrainPluginInput>,
    model: Model,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    return model.train(request, context);
  }

  /** Checks on a running training. The default calls `model.trainStatus`. */
  async trainStatus(
    request: PluginRequest<TrainPluginInput>,
    model: Model,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    return model.trainStatus(request, context);
  }

  /** Optional: stops an external job when its training is cancelled or times out. */
  cancelTraining?(
    request: PluginRequest<TrainPluginInput>,
    model: Model,
    context: TrainContext,
  ): Promise<void>;
}
