import type {
  PluginRequest,
  PostUpdate,
  TrainingParameterPluginInput,
  TrainingParameterPluginOutput,
} from "@trainable/core";
import type { PluginInstance } from "../service/plugin-instance.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";

export interface ClientRunOptions {
  /** The checkpoint handle to serve (default: the instance's handle, else `default`). */
  handle?: string;
  signal?: AbortSignal;
}

export interface ClientTrainOptions {
  signal?: AbortSignal;
  /** Receives the model's `postUpdate`s (state, status message, progress, metrics), as they happen. */
  onUpdate?: (update: PostUpdate) => void;
  /**
   * Where the in-training model's folder is kept between calls (in-process plugins only; a
   * plugin server keeps its own under its `dataDir`).
   */
  stateDir?: string;
}

/**
 * What the local engine drives: one plugin, in-process (`createLocalPluginClient`) or over
 * HTTP (`createHttpPluginClient`), with the same methods and the same semantics.
 *
 * Plugin outcomes — including a training that ended `failed` — are returned; errors (bad
 * input, unknown instance, a plugin that threw, a network failure) are thrown as
 * `TrainableError`s.
 */
export interface PluginClient {
  readonly kind: "in-process" | "http";
  /** A description for messages: the plugin's name or the server's URL. */
  readonly name: string;
  /** Validates an instance's config and makes the instance known to the plugin. */
  registerInstance(instance: PluginInstance): Promise<PluginInstance>;
  /** Runs inference: returns the plugin's output for `request.data`. */
  run(request: PluginRequest<unknown>, options?: ClientRunOptions): Promise<unknown>;
  getTrainingParameters(
    request: PluginRequest<TrainingParameterPluginInput>,
    options?: { signal?: AbortSignal },
  ): Promise<TrainingParameterPluginOutput>;
  /** `train`, or `trainStatus` when `request.isStatusCheck`; the plugin side saves on success. */
  train(request: TrainRequest, options?: ClientTrainOptions): Promise<TrainResponse>;
  /** Stops a training: aborts an in-flight call and the plugin's external job. */
  cancelTraining(request: TrainRequest, options?: ClientTrainOptions): Promise<TrainResponse>;
}
