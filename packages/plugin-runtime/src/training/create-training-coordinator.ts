import { tmpdir } from "node:os";
import {
  CancelledError,
  type CheckpointStore,
  type InvocableResponse,
  isFinalTaskState,
  type ModelCache,
  type PostUpdate,
  type Task,
  type TrainPluginOutput,
  validateId,
} from "@trainable/core";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import type { PluginInstance } from "../service/plugin-instance.js";
import type { CoordinatorScope } from "./coordinator-scope.js";
import { coordinatorTrain } from "./coordinator-train.js";
import { generateHandle } from "./generate-handle.js";
import { createLiveTrainings } from "./live-trainings.js";
import { trainContext } from "./train-context.js";
import type { TrainRequest } from "./train-request.js";

/** A training response whose `status` is always set. */
export type TrainResponse = InvocableResponse<TrainPluginOutput> & { status: Task };

export interface TrainingCoordinatorOptions {
  service: AnyTrainablePluginService;
  /** Where finished trainings are saved. */
  store: CheckpointStore;
  /** Told about each save, so the next `run` serves the new model at once. */
  cache?: ModelCache | false;
  /** Parent of per-training scratch folders. Default: the OS temp dir. */
  scratchRoot?: string;
  /**
   * Keeps each in-training model's folder under `{stateRoot}/{taskId}` between calls, so a
   * status check after a restart of this process can rebuild the model. Per-call
   * `stateDir` wins. Without either, a status check after a restart gets a fresh model that
   * must rebuild itself from `status.remoteStatusInput` (the original's stateless way).
   */
  stateRoot?: string;
  /** In-training models kept in memory between calls. Default 1000 (oldest dropped first). */
  maxLiveModels?: number;
  now?: () => Date;
}

export interface TrainCallOptions<Config> {
  /** The instance being trained (config validated). */
  instance: PluginInstance<Config>;
  signal?: AbortSignal;
  /** Receives each `postUpdate` of the model, checked and normalized. */
  onUpdate?: (update: PostUpdate) => void;
  /** Where this training's in-training model folder is kept between calls. */
  stateDir?: string;
}

/**
 * Runs one plugin's side of the training lifecycle, the same way in-process and behind HTTP:
 * `train` and `trainStatus` with a model that lives across calls, and — when a training
 * succeeds — `model.saveRemote` to the handle the request asks (moving `default` unless told
 * not to). Whoever hosts the coordinator saves: the engine's process for in-process
 * plugins, the plugin server's process for plugins served over HTTP.
 */
export interface TrainingCoordinator {
  /** `train` (or `trainStatus` when `request.isStatusCheck`), then save on success. */
  train(request: TrainRequest, options: TrainCallOptions<unknown>): Promise<TrainResponse>;
  /** Aborts an in-flight call for the task, calls the plugin's `cancelTraining`, forgets the model. */
  cancel(request: TrainRequest, options: TrainCallOptions<unknown>): Promise<TrainResponse>;
}

export function createTrainingCoordinator(
  options: TrainingCoordinatorOptions,
): TrainingCoordinator {
  const scope: CoordinatorScope = {
    service: options.service,
    store: options.store,
    cache: options.cache ?? false,
    now: options.now ?? (() => new Date()),
    live: createLiveTrainings({
      service: options.service,
      maxLive: options.maxLiveModels ?? 1000,
      scratchRoot: options.scratchRoot ?? tmpdir(),
      stateRoot: options.stateRoot,
    }),
  };
  return {
    train: (request, call) => coordinatorTrain(scope, request, call),
    cancel: (request, call) => cancelTraining(scope, request, call),
  };
}

/** The coordinator's `cancel`. */
async function cancelTraining(
  scope: CoordinatorScope,
  request: TrainRequest,
  call: TrainCallOptions<unknown>,
): Promise<TrainResponse> {
  const { service, live } = scope;
  const taskId = validateId(request.status?.taskId, "status.taskId");
  const existing = live.get(taskId);
  for (const controller of existing?.controllers ?? []) {
    controller.abort(new CancelledError("[runtime] Training cancelled"));
  }
  try {
    if (service.cancelTraining && request.status && !isFinalTaskState(request.status.state)) {
      const { entry } = await live.modelFor(taskId, call);
      const signal = call.signal ?? new AbortController().signal;
      const handle = request.save?.handle ?? generateHandle(scope.now());
      await service.cancelTraining(
        request,
        entry.model,
        trainContext(scope, { request, taskId, signal, call, selfSaves: [], handle }),
      );
    }
  } finally {
    await live.cleanup(taskId, call);
  }
  const at = scope.now().toISOString();
  return {
    status: { ...request.status, taskId, state: "cancelled", updatedAt: at, finishedAt: at },
  };
}
