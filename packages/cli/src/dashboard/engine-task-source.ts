import { isFinalTaskState, NotFoundError } from "@trainable/core";
import type { TrainingEngine } from "@trainable/plugin-runtime";
import type { TaskSource } from "./task-source.js";

/**
 * The trainings of an engine that sees every task itself, the distributed one (`--queue`):
 * its events come from the queue, a cancel reaches the worker running the task. A cancel that
 * takes longer than `cancelWaitMs` (default 15 s) is answered as requested; the page follows
 * the task's events to see it end.
 */
export function createEngineTaskSource(
  engine: TrainingEngine,
  options: { cancelWaitMs?: number } = {},
): TaskSource {
  return {
    kind: "queue",
    listInstances: async () => await engine.listInstances(),
    listTasks: async () => await engine.listTasks(),
    getTask: async (taskId) => await engine.getTask(taskId),
    subscribe: (listener) => engine.on("task", listener),
    async cancel(taskId) {
      const known = await engine.getTask(taskId);
      if (!known) throw new NotFoundError(`[cli] Unknown task "${taskId}" on the queue`);
      if (isFinalTaskState(known.state)) return { task: known, requested: false };
      const cancelled = engine.cancel(taskId);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, options.cancelWaitMs ?? 15_000, undefined);
      });
      try {
        const task = await Promise.race([cancelled, late]);
        if (task) return { task, requested: false };
        // Still running: the cancel goes on in the background (its failure is not lost).
        cancelled.catch(() => {});
        return { task: (await engine.getTask(taskId)) ?? known, requested: true };
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => engine.close(),
  };
}
