import { isFinalTaskState, NotFoundError } from "@trainable/core";
import type { TaskEvent, TrainingEngine, TrainingTask } from "@trainable/plugin-runtime";

/**
 * `engine.watch(taskId)`: a snapshot, then the task's events until `finished` — which also
 * comes from the job itself (`wait`), as a `finished` progress event can be missed (the
 * events stream is trimmed, or it happened before the listener).
 */
export async function* watchTask(
  engine: Pick<TrainingEngine, "on" | "wait" | "getTask">,
  taskId: string,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<TaskEvent> {
  const queue: TaskEvent[] = [];
  let wake: (() => void) | undefined;
  const off = engine.on("task", (event) => {
    if (event.taskId !== taskId) return;
    queue.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  // The end also comes from the job itself: a `finished` progress event can be missed (the
  // events stream is trimmed, or it happened before the listener).
  let final: TrainingTask | undefined;
  void engine.wait(taskId).then(
    (task) => {
      final = task;
      wake?.();
    },
    () => {},
  );
  try {
    const task = await engine.getTask(taskId);
    if (!task) throw new NotFoundError(`[engine-bullmq] Unknown task "${taskId}"`);
    yield { type: "snapshot", taskId, task };
    if (isFinalTaskState(task.state)) return;
    for (;;) {
      while (queue.length > 0) {
        const event = queue.shift() as TaskEvent;
        yield event;
        if (event.type === "finished") return;
      }
      if (final) {
        yield { type: "finished", taskId, task: final };
        return;
      }
      if (signal?.aborted) return;
      await new Promise<void>((resolveWait) => {
        wake = resolveWait;
      });
      wake = undefined;
    }
  } finally {
    off();
    signal?.removeEventListener("abort", onAbort);
  }
}
