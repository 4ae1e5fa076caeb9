import type { Id } from "@trainable/core";
import type { EngineInstance, TaskEvent, TrainingTask } from "@trainable/plugin-runtime";

/** The answer to a cancel from the dashboard. */
export interface CancelAnswer {
  /** The task as it is now (final when the cancel went through). */
  task: TrainingTask;
  /**
   * True when the cancel was only asked for: the process driving the task stops it when it
   * sees the request (the page follows the task's events to see it end). A local task no
   * live process drives is cancelled at once, unless its plugin runs a job only that plugin
   * can stop: then the request waits for the engine that resumes it (`trainable resume`).
   */
  requested: boolean;
}

/** A plugin instance as the dashboard shows it: a read-only one hides its config. */
type ShownInstance = Omit<EngineInstance, "config"> & {
  config?: unknown;
  configHidden?: true;
};

/**
 * Where the dashboard reads trainings and plugin instances from: the local engine's task log
 * on `--data-dir` (trainings driven by `trainable train` processes) or a distributed queue.
 */
export interface TaskSource {
  readonly kind: "local" | "queue";
  listInstances(): Promise<ShownInstance[]>;
  /** Newest first. */
  listTasks(): Promise<TrainingTask[]>;
  /** `taskId` is checked by the caller (the HTTP route). */
  getTask(taskId: Id): Promise<TrainingTask | undefined>;
  /** Calls `listener` with every change of every task; returns the unsubscribe function. */
  subscribe(listener: (event: TaskEvent) => void): () => void;
  cancel(taskId: Id): Promise<CancelAnswer>;
  close(): Promise<void>;
}
