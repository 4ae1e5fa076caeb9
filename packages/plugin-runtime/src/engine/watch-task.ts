import type { EventEmitter } from "node:events";
import { isFinalTaskState, NotFoundError } from "@trainable/core";
import type { TaskEvent } from "./task-event.js";
import type { TrainingEngine } from "./training-engine.js";
import type { TrainingTask } from "./training-task.js";

export interface WatchTaskOptions {
  engine: Pick<TrainingEngine, "on" | "wait" | "getTask">;
  taskId: string;
  signal?: AbortSignal;
  /** Prefix of the "unknown task" error, e.g. `runtime`. */
  component: string;
  /**
   * Also ends on `engine.wait(taskId)` (with a `finished` event of its task), for engines
   * whose `finished` event can be missed (a distributed engine's events stream is trimmed,
   * or the event happened before the listener).
   */
  endOnWait?: boolean;
}

/**
 * `engine.watch(taskId)`: a `snapshot` of the task, then its events as they happen, until
 * `finished` (or until `signal` aborts).
 */
export async function* watchTask(options: WatchTaskOptions): AsyncIterableIterator<TaskEvent> {
  const { engine, taskId, signal } = options;
  const queue: TaskEvent[] = [];
  let wake: (() => void) | undefined;
  const off = engine.on("task", (event) => {
    if (event.taskId !== taskId) return;
    queue.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  let final: TrainingTask | undefined;
  if (options.endOnWait) {
    void engine.wait(taskId).then(
      (task) => {
        final = task;
        wake?.();
      },
      () => {},
    );
  }
  try {
    // A local engine answers at once: no event slips in between the listener and the read.
    const read = engine.getTask(taskId);
    const task = read instanceof Promise ? await read : read;
    if (!task) throw new NotFoundError(`[${options.component}] Unknown task "${taskId}"`);
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

/**
 * An engine's `on` and `watch` over the `emitter` its `task` events are emitted on: `on` adds
 * a listener and answers its removal; `watch` is `watchTask` through `engine()` (the engine
 * being built, read when a watch starts).
 */
export function taskSubscriptions(
  emitter: EventEmitter,
  options: Omit<WatchTaskOptions, "engine" | "taskId" | "signal"> & {
    engine: () => WatchTaskOptions["engine"];
  },
): Pick<TrainingEngine, "watch" | "on"> {
  const { component, endOnWait } = options;
  return {
    watch: (taskId, watchOptions = {}) =>
      watchTask({
        engine: options.engine(),
        taskId,
        signal: watchOptions.signal,
        component,
        endOnWait,
      }),
    on(event, listener) {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
  };
}
