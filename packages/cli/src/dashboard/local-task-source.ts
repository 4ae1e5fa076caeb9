import { join } from "node:path";
import { type Id, isFinalTaskState, NotFoundError } from "@trainable/core";
import { requestLocalCancel, type TaskEvent } from "@trainable/plugin-runtime";
import { listLocalInstances } from "./list-local-instances.js";
import { createLocalTaskLog } from "./local-task-log.js";
import type { CancelAnswer, TaskSource } from "./task-source.js";

export interface LocalTaskSourceOptions {
  /** The local engine's data dir (`--data-dir`). */
  dataDir: string;
  /** How often the task log is looked at while someone follows the events. Default 500 ms. */
  scanIntervalMs?: number;
  /** How long a cancel waits for the process driving the task to end it. Default 15 s. */
  cancelWaitMs?: number;
  /** Unreadable task files (reported once each). */
  onProblem?: (message: string) => void;
}

/**
 * The trainings of the local engine as its task log on `dataDir` shows them: each task's
 * `tasks/{id}/task.json`, written (atomically) by the process that drives it. The log is
 * re-read only where a file changed, every `scanIntervalMs` while a page follows the events,
 * and turned into task events (`created`, `update`, `finished`).
 */
export function createLocalTaskSource(options: LocalTaskSourceOptions): TaskSource {
  const instancesDir = join(options.dataDir, "instances");
  const interval = options.scanIntervalMs ?? 500;
  const reported = new Set<string>();
  const listeners = new Set<(event: TaskEvent) => void>();
  let timer: NodeJS.Timeout | undefined;

  const problem = (key: string, message: string) => {
    if (reported.has(key)) return;
    reported.add(key);
    options.onProblem?.(message);
  };
  const log = createLocalTaskLog({
    tasksDir: join(options.dataDir, "tasks"),
    onEvent: (event) => {
      for (const listener of listeners) listener(event);
    },
    problem,
  });

  return {
    kind: "local",

    listInstances: () => listLocalInstances(instancesDir, problem),

    async listTasks() {
      await log.scan();
      return log.sorted();
    },

    async getTask(taskId) {
      await log.readTask(taskId);
      return log.get(taskId);
    },

    subscribe(listener) {
      listeners.add(listener);
      timer ??= setInterval(() => {
        void log.scan().catch((error: unknown) => problem(String(error), `scan failed: ${error}`));
      }, interval);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },

    async cancel(taskId): Promise<CancelAnswer> {
      const known = await this.getTask(taskId);
      if (!known) throw new NotFoundError(`[cli] Unknown task "${taskId}"`);
      if (isFinalTaskState(known.state)) return { task: known, requested: false };
      // The local engine's own cancel request: a live driver honours it; a task no live
      // process drives is cancelled right here.
      const answer = await requestLocalCancel({ dataDir: options.dataDir, taskId });
      return awaitRequestedCancel(this, answer, options.cancelWaitMs);
    },

    async close() {
      listeners.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
      await log.settled();
    },
  };
}

/**
 * After a cancel request: the task as it is now, or — when the request waits for the process
 * driving the task — as that process ends it, read from the task log every 200 ms for up to
 * `waitMs` (default 15 s; `requested` stays true when it has not ended by then).
 */
export async function awaitRequestedCancel(
  source: Pick<TaskSource, "getTask">,
  answer: CancelAnswer,
  waitMs = 15_000,
): Promise<CancelAnswer> {
  const taskId = answer.task.taskId as Id;
  if (!answer.requested)
    return { task: (await source.getTask(taskId)) ?? answer.task, requested: false };
  const until = Date.now() + waitMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const task = (await source.getTask(taskId)) ?? answer.task;
    if (isFinalTaskState(task.state)) return { task, requested: false };
    if (Date.now() >= until) return { task, requested: true };
  }
}
