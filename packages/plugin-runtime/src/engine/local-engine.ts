import type { CheckpointStore, ModelCache, TaskState } from "@trainable/core";
import type { InstanceLookup } from "../service/instance-lookup.js";
import type { EngineInstance } from "./engine-instance.js";
import type { CancelRequestAnswer } from "./local/request-cancel.js";
import type { TrainingEngine } from "./training-engine.js";
import type { TrainingTask } from "./training-task.js";

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
 * in-process or served over HTTP. See `createLocalEngine`. Its reads answer at once (its
 * records are in memory); `wait` resolves once the task is final, running in this engine or
 * not.
 */
export interface LocalEngine extends TrainingEngine {
  readonly store: CheckpointStore;
  readonly cache: ModelCache | false;
  readonly dataDir: string;
  /** The engine's instances as a lookup (e.g. for `createPluginApp(service, { instances })`). */
  readonly instances: InstanceLookup;

  getInstance(id: string): EngineInstance | undefined;
  listInstances(): EngineInstance[];
  getTask(taskId: string): TrainingTask | undefined;
  /** Tasks, newest first. */
  listTasks(filter?: { instanceId?: string; state?: TaskState }): TrainingTask[];
  /**
   * Cancels a task of `dataDir` whoever drives it: this engine's own at once; one another
   * live process drives through a cancel request it honours (`requested: true`); one no one
   * drives is recorded `cancelled` here (its plugin's job stopped, when registered). Unlike
   * `cancel`, never refused for a task another process drives. See `requestLocalCancel`.
   */
  requestCancel(taskId: string): Promise<CancelRequestAnswer>;
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
