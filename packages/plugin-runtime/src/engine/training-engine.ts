import type { TaskState, TrainPluginInput } from "@trainable/core";
import type { PluginClient } from "../client/plugin-client.js";
import type { PluginService } from "../service/plugin-service.js";
import type { EngineInstance } from "./engine-instance.js";
import type { TaskEvent } from "./task-event.js";
import type { TrainingTask } from "./training-task.js";

/** A training request to the engine: a `TrainPluginInput` whose `pluginInstance` may be left out. */
export type EngineTrainInput = Omit<TrainPluginInput, "pluginInstance"> & {
  pluginInstance?: string;
};

export interface EngineTrainOptions {
  /** Cancels the training (as `cancel(taskId)` does). */
  signal?: AbortSignal;
  /** Overall time allowed, from start to the end of the last status check. */
  timeoutMs?: number;
  /** Checkpoint handle to save to. Default: a generated `v{date}-{time}-{ms}` handle. */
  handle?: string;
  /** Move `default` to the new checkpoint. Default true. */
  setAsDefault?: boolean;
}

export interface TrainingRun {
  taskId: string;
  /** The task as created. */
  task: TrainingTask;
  /** Settles with the task once it is `succeeded`, `failed` or `cancelled` (never rejects). */
  done: Promise<TrainingTask>;
}

export interface CreateInstanceOptions {
  id: string;
  /** The registered plugin's name. */
  plugin: string;
  /** The checkpoint handle `run` serves. Default `default`. */
  handle?: string;
  /** Checked with the plugin's `configSchema`. */
  config?: unknown;
  /** Replace an existing instance with a different plugin, handle or config. Default false. */
  replace?: boolean;
}

/** A value, or a promise of it: what an engine backed by a remote store answers. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What every training engine offers — the local engine (`createLocalEngine`, one process,
 * task records in files) and the distributed one (`@trainable/engine-bullmq`, tasks as BullMQ
 * jobs on Redis, driven by workers). Both drive trainings with the same write-ahead driver,
 * so a task goes through the same states and events on either; the conformance suite
 * (`test/engine-conformance.ts`) runs the same cases on both.
 *
 * Reads may answer a promise (a distributed engine asks Redis): callers `await` them.
 */
export interface TrainingEngine {
  /** Adds a plugin under `name` (used to validate instance configs, and to run in-process). */
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  registerPlugin(name: string, plugin: PluginService<any, any> | PluginClient): void;
  /** Creates (or, unchanged, returns) a plugin instance; its config is validated by the plugin. */
  createInstance(options: CreateInstanceOptions): Promise<EngineInstance>;
  getInstance(id: string): MaybePromise<EngineInstance | undefined>;
  listInstances(): MaybePromise<EngineInstance[]>;

  /** Starts a training and returns once it is recorded (not finished), with its task id. */
  startTraining(
    instanceId: string,
    input: EngineTrainInput,
    options?: EngineTrainOptions,
  ): Promise<TrainingRun>;
  /** Trains and waits for the final task (it does not throw for a failed training). */
  train(
    instanceId: string,
    input: EngineTrainInput,
    options?: EngineTrainOptions,
  ): Promise<TrainingTask>;
  /** Cancels a training (and the plugin's external job); resolves with the final task. */
  cancel(taskId: string): Promise<TrainingTask>;
  /** Resolves with the task once it is final. */
  wait(taskId: string): Promise<TrainingTask>;
  getTask(taskId: string): MaybePromise<TrainingTask | undefined>;
  /** Tasks, newest first. */
  listTasks(filter?: { instanceId?: string; state?: TaskState }): MaybePromise<TrainingTask[]>;
  /** The task's events as they happen, starting with a `snapshot`; ends after `finished`. */
  watch(taskId: string, options?: { signal?: AbortSignal }): AsyncIterableIterator<TaskEvent>;
  /** Calls `listener` for every task event; returns the unsubscribe function. */
  on(event: "task", listener: (event: TaskEvent) => void): () => void;
  /** Releases the engine's resources; trainings are not cancelled. */
  close(): Promise<void>;
}
