import type { TaskEvent } from "@trainable/plugin-runtime";
import { taskOf } from "../task-of-job.js";
import type { TaskProgress } from "../task-progress.js";
import { TRAIN_JOB } from "../training-job-data.js";
import type { EngineContext } from "./engine-context.js";

/** The engine's side of BullMQ's events stream. */
export interface EventRelay {
  /** Marks a task this engine enqueues: it emits its `created` itself. */
  createdHere(taskId: string): void;
  /** Forgets such a mark (the task was queued before: no `added` event comes). */
  forgetCreated(taskId: string): void;
  /** Resolves once the task's job completed or failed (or `finished(taskId)` was called). */
  whenFinished(taskId: string): Promise<void>;
  /** Wakes the waiters of a task (its final record is known). */
  finished(taskId: string): void;
  /** Wakes every waiter (the engine closes). */
  finishAll(): void;
}

/**
 * Relays the queue's events as task events: `added` → `created` (read from the job, for a
 * task another engine enqueued), `progress` → the event the worker reported, in the order of
 * the events stream per task; `completed`/`failed` wake the `wait()`s of the task.
 */
export function relayEvents(context: EngineContext): EventRelay {
  const { queueEvents, emit } = context;
  // Events of one task are emitted in the order of BullMQ's events stream, even when one of
  // them needs a read first (`created`, for a task another engine enqueued).
  const chains = new Map<string, Promise<void>>();
  const inOrder = (taskId: string, fn: () => void | Promise<void>) => {
    const next = (chains.get(taskId) ?? Promise.resolve()).then(fn).catch(() => {});
    chains.set(taskId, next);
    void next.then(() => {
      if (chains.get(taskId) === next) chains.delete(taskId);
    });
  };
  /** Tasks this engine enqueued: it emitted their `created` itself. */
  const createdHere = new Set<string>();
  /**
   * Tasks whose `created` this engine emitted (the newest 10,000): a job queued back with its
   * final record (see cancel()) is `added` again, and is not created again.
   */
  const announced = new Set<string>();
  const announce = (taskId: string) => {
    announced.add(taskId);
    if (announced.size > 10_000) announced.delete(announced.values().next().value as string);
  };
  queueEvents.on("added", ({ jobId, name }) => {
    if (name !== TRAIN_JOB || announced.has(jobId)) return;
    announce(jobId);
    if (createdHere.delete(jobId)) return;
    inOrder(jobId, async () => {
      // The task as recorded now: a worker may already have started (or finished) it.
      const job = await context.jobOf(jobId);
      if (job) emit({ type: "created", taskId: jobId, task: taskOf(job) });
    });
  });
  queueEvents.on("progress", ({ jobId, data }) => {
    const progress = data as unknown as TaskProgress;
    if (progress === null || typeof progress !== "object" || !("type" in progress)) return;
    const event: TaskEvent = { type: progress.type, taskId: jobId, task: progress.task };
    if (progress.update !== undefined) event.update = progress.update;
    inOrder(jobId, () => {
      emit(event);
    });
  });

  // One listener for every wait(): resolvers by task id.
  const finishWaiters = new Map<string, Set<() => void>>();
  const onFinished = ({ jobId }: { jobId: string }) => {
    const waiters = finishWaiters.get(jobId);
    if (!waiters) return;
    finishWaiters.delete(jobId);
    for (const wake of waiters) wake();
  };
  queueEvents.on("completed", onFinished);
  queueEvents.on("failed", onFinished);

  return {
    createdHere: (taskId) => void createdHere.add(taskId),
    forgetCreated: (taskId) => void createdHere.delete(taskId),
    whenFinished: (taskId) =>
      new Promise<void>((resolveWait) => {
        let waiters = finishWaiters.get(taskId);
        if (!waiters) {
          waiters = new Set();
          finishWaiters.set(taskId, waiters);
        }
        waiters.add(resolveWait);
      }),
    finished: (jobId) => onFinished({ jobId }),
    finishAll() {
      for (const jobId of [...finishWaiters.keys()]) onFinished({ jobId });
    },
  };
}
