import {
  type CheckpointStore,
  type ModelCache,
  type PluginRequest,
  parseWith,
  pluginRequestSchema,
  TrainableError,
  TrainingParameterPluginInput,
  type TrainingParameterPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { z } from "zod";
import type { InstanceSource } from "../service/instance-lookup.js";
import type { PluginInstance } from "../service/plugin-instance.js";
import type { PluginService } from "../service/plugin-service.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import {
  createTrainingCoordinator,
  type TrainingCoordinator,
} from "../training/create-training-coordinator.js";
import { TrainRequest } from "../training/train-request.js";
import { checkWorkspace } from "./check-workspace.js";
import { createInstanceRegistry } from "./instance-registry.js";
import { createLocalRun, runSchemas } from "./local-run.js";
import type { ClientRunOptions, ClientTrainOptions, PluginClient } from "./plugin-client.js";
import { checkedInstanceIds, checkedTrainingParameters } from "./training-parameters-answer.js";

export interface LocalPluginClientOptions {
  /** The store models are loaded from and trainings saved to. */
  store: CheckpointStore;
  /** The model cache `run` loads through (and that saves notify). */
  cache?: ModelCache | false;
  /**
   * The instances served, besides those added with `registerInstance`. Omitted: any valid
   * instance id is served, with the config `configSchema` makes of `{}`.
   */
  instances?: InstanceSource;
  /** Keeps in-training model folders under `{stateRoot}/{taskId}` (see the coordinator). */
  stateRoot?: string;
  /**
   * Keeps instances added with `registerInstance` as `{instancesDir}/{id}.json`, so a
   * restarted plugin server still serves them. Omitted: in memory only.
   */
  instancesDir?: string;
  /** Parent of training scratch folders. Default: the OS temp dir. */
  scratchRoot?: string;
  /**
   * Check every `run` answer against the plugin's `outputSchema` (when it declares one): a
   * plugin bug becomes an `INTERNAL` error instead of a malformed answer. Default true.
   */
  checkOutput?: boolean;
  now?: () => Date;
}

/**
 * Options of the in-process client's calls: `prevalidated` skips parsing a request already
 * parsed (and, for `run`, checking a `handle` already checked).
 */
export interface LocalCallOptions {
  prevalidated?: boolean;
}

/** A plugin driven in-process: the engine's way, and what `createPluginApp` serves. */
export interface LocalPluginClient extends PluginClient {
  readonly kind: "in-process";
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  readonly service: PluginService<any, any>;
  readonly trainable: boolean;
  /** The zod schemas requests are parsed with (also used by the HTTP app). */
  readonly schemas: {
    run: z.ZodType<PluginRequest<unknown>>;
    train: typeof TrainRequest;
    trainingParameters: z.ZodType<PluginRequest<TrainingParameterPluginInput>>;
  };
  /** The instance a request names: registered ones first, then `instances`. */
  resolveInstance(id: string | undefined): Promise<PluginInstance | undefined>;
  run(
    request: PluginRequest<unknown>,
    options?: ClientRunOptions & LocalCallOptions,
  ): Promise<unknown>;
  getTrainingParameters(
    request: PluginRequest<TrainingParameterPluginInput>,
    options?: { signal?: AbortSignal } & LocalCallOptions,
  ): Promise<TrainingParameterPluginOutput>;
  train(
    request: TrainRequest,
    options?: ClientTrainOptions & LocalCallOptions,
  ): ReturnType<PluginClient["train"]>;
  cancelTraining(
    request: TrainRequest,
    options?: ClientTrainOptions & LocalCallOptions,
  ): ReturnType<PluginClient["cancelTraining"]>;
}

/** Wraps a plugin service for in-process calls (validation, instances, training, saving). */
export function createLocalPluginClient(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any>,
  options: LocalPluginClientOptions,
): LocalPluginClient {
  if (!options?.store) {
    throw ValidationError.forField("runtime", "store", "is required (a CheckpointStore)");
  }
  const { store } = options;
  const cache = options.cache ?? false;
  const trainable = TrainablePluginService.isInstance(service) ? service : undefined;
  const name = service.pluginName;
  const instances = createInstanceRegistry({
    trainable,
    instances: options.instances,
    instancesDir: options.instancesDir,
  });
  const coordinator: TrainingCoordinator | undefined = trainable
    ? createTrainingCoordinator({
        service: trainable,
        store,
        cache,
        stateRoot: options.stateRoot,
        scratchRoot: options.scratchRoot,
        now: options.now,
      })
    : undefined;

  const { runSchema, outputSchema } = runSchemas(service, options.checkOutput);
  const trainingParametersSchema = pluginRequestSchema(TrainingParameterPluginInput).extend({
    data: TrainingParameterPluginInput,
  });
  const trainSchema = TrainRequest;

  const requireTrainable = (what: string) => {
    if (!trainable || !coordinator) {
      throw new TrainableError(
        "NOT_SUPPORTED",
        `[runtime] ${name} is not trainable: it has no ${what} (extend TrainablePluginService)`,
      );
    }
    return { trainable, coordinator };
  };
  /** A train or cancel request, parsed (unless prevalidated), and the instance it is for. */
  const trainingCall = async (
    request: TrainRequest,
    callOptions: ClientTrainOptions & LocalCallOptions,
    what: "train" | "cancelTraining",
  ) => {
    const parsed = callOptions.prevalidated
      ? request
      : parseWith(trainSchema, request, `${name} ${what} request`, "runtime");
    checkWorkspace(parsed, store.workspace);
    const instance = await resolveInstance(
      parsed.context?.pluginInstanceId ?? parsed.data?.pluginInstance,
    );
    return {
      parsed,
      options: {
        instance: instance as PluginInstance,
        signal: callOptions.signal,
        stateDir: callOptions.stateDir,
      },
    };
  };

  async function resolveInstance(id: string | undefined): Promise<PluginInstance | undefined> {
    return instances.resolve(id);
  }

  return {
    kind: "in-process",
    name,
    service,
    trainable: trainable !== undefined,
    schemas: { run: runSchema, train: trainSchema, trainingParameters: trainingParametersSchema },
    resolveInstance,

    async registerInstance(instance) {
      const id = validateId(instance?.id, "id");
      const handle =
        instance.handle === undefined ? undefined : validateId(instance.handle, "handle");
      return instances.register({ id, handle, config: instance.config });
    },

    run: createLocalRun({ service, store, cache, instances, runSchema, outputSchema }),

    async getTrainingParameters(request, callOptions = {}) {
      const plugin = requireTrainable("getTrainingParameters").trainable;
      const parsed = callOptions.prevalidated
        ? request
        : parseWith(
            trainingParametersSchema,
            request,
            `${name} getTrainingParameters request`,
            "runtime",
          );
      checkWorkspace(parsed, store.workspace);
      const contextId = checkedInstanceIds(parsed);
      await resolveInstance(contextId ?? parsed.data?.pluginInstance);
      return checkedTrainingParameters(await plugin.getTrainingParameters(parsed), name);
    },

    async train(request, callOptions = {}) {
      const { coordinator: c } = requireTrainable("train");
      const call = await trainingCall(request, callOptions, "train");
      return c.train(call.parsed, { ...call.options, onUpdate: callOptions.onUpdate });
    },

    async cancelTraining(request, callOptions = {}) {
      const { coordinator: c } = requireTrainable("cancelTraining");
      const call = await trainingCall(request, callOptions, "cancelTraining");
      return c.cancel(call.parsed, call.options);
    },
  };
}
