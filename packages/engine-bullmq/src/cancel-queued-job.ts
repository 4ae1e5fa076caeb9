import type { TrainingTask } from "@trainable/plugin-runtime";
import type { Job, Queue } from "bullmq";
import { TRAIN_JOB, type TrainingJobData } from "./training-job-data.js";

/**
 * Records the cancel of a task no worker took yet, without a worker: removes its job and
 * queues it back with its final `cancelled` record (the next worker completes it at once,
 * without driving it). Only while the job is queued and unlocked — BullMQ's `remove` refuses
 * a job a worker holds — and only if it never reached the plugin (a job handed back or
 * recovered has a phase: the worker taking it stops the plugin's job first). Resolves the
 * final task, or undefined when a worker must do it.
 */
export async function cancelQueuedJob(queued: {
  queue: Queue<TrainingJobData, TrainingTask>;
  job: Job<TrainingJobData, TrainingTask>;
  task: TrainingTask;
  now: Date;
}): Promise<TrainingTask | undefined> {
  const { queue, job, task, now } = queued;
  if (task.phase !== undefined || task.state !== "waiting") return undefined;
  const state = await job.getState();
  if (state !== "waiting" && state !== "delayed" && state !== "prioritized") return undefined;
  const removed = await job.remove().then(
    () => true,
    () => false,
  );
  if (!removed) return undefined;
  const at = now.toISOString();
  const message = "[engine-bullmq] Training cancelled";
  const final: TrainingTask = {
    ...task,
    state: "cancelled",
    phase: "finished",
    updatedAt: at,
    finishedAt: at,
    statusMessage: message,
    error: { code: "CANCELLED", message },
  };
  // Back in the queue with its final record (the job's data was validated by taskOf).
  await queue.add(
    TRAIN_JOB,
    { ...job.data, task: final },
    { jobId: task.taskId, attempts: 1, removeOnComplete: false, removeOnFail: false },
  );
  return final;
}
