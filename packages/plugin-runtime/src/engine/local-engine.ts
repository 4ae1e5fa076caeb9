import type { CheckpointStore, ModelCache, TaskState, TrainPluginInput } from "@trainable/core";
import type { PluginClient } from "../client/plugin-client.js";
import type { InstanceLookup } from "../service/instance-lookup.js";
import type { PluginService } from "../service/plugin-service.js";
import type { EngineInstance } from "./engine-instance.js";
import type { TaskEvent } from "./task-event.js";
import type { TrainingEngine } from "./training-engine.js";
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

export interface ResumeResult {
  /** Tasks whose status checks resumed (or that started, if they had not yet). */
  resumed: string[];
  /** Tasks marked `failed` because their outcome cannot be known (see the README). */
  interrupted: string[];
  /** Tasks left as they are, and why (e.g. their plugin is not registered yet). */
  skipped: Array<{ taskId: string; reason: string }>;
}

/**
 * The local engine: plugin instances, the training lifecycle and inference, for plugins
 * in-process or served over HTTP. See `createLocalEngine`.
 */
export interface LocalEngine extends TrainingEngine {
  readonly store: CheckpointStore;
  readonly cache: ModelCache | false;
  readonly dataDir: string;
  /** The engine's instances as a lookup (e.g. for `createPluginApp(service, { instances })`). */
  readonly instances: InstanceLookup;

  /** Adds a plugin under `name`: a service (driven in-process) or a client (e.g. HTTP). */
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  registerPlugin(name: string, plugin: PluginService<any, any> | PluginClient): void;
  /** Creates (or, unchanged, returns) a plugin instance; its config is validated by the plugin. */
  createInstance(options: CreateInstanceOptions): Promise<EngineInstance>;
  getInstance(id: string): EngineInstance | undefined;
  listInstances(): EngineInstance[];

  /** Starts a training and returns at once with its task id. */
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
  /** Resolves with the task once it is final (running in this engine or not). */
  wait(taskId: string): Promise<TrainingTask>;
  getTask(taskId: string): TrainingTask | undefined;
  /** Tasks, newest first. */
  listTasks(filter?: { instanceId?: string; state?: TaskState }): TrainingTask[];
  /** The task's events as they happen, starting with a `snapshot`; ends after `finished`. */
  watch(taskId: string, options?: { signal?: AbortSignal }): AsyncIterableIterator<TaskEvent>;
  /** Calls `listener` for every task event; returns the unsubscribe function. */
  on(event: "task", listener: (event: TaskEvent) => void): () => void;
  /** Picks up the unfinished tasks found in `dataDir` (call after registering plugins). */
  resume(): Promise<ResumeResult>;

  /** Runs inference with an instance's model (`default` unless a handle is asked). */
  run(
    instanceId: string,
    input: unknown,
    options?: { handle?: string; signal?: AbortSignal },
  ): Promise<unknown>;

  /**
   * Stops driving trainings without cancelling them (they stay `running` on disk, so a later
   * engine resumes them) and waits for pending writes.
   */
  close(): Promise<void>;
}
