import { isFinalTaskState, NotFoundError } from "@trainable/core";
import type { TrainingTask } from "@trainable/plugin-runtime";
import { cancelQueuedJob } from "../cancel-queued-job.js";
import { taskOf } from "../task-of-job.js";
import type { EngineContext } from "./engine-context.js";
import type { EventRelay } from "./relay-events.js";

/** `engine.wait`: resolves with the task once its job finished (or its record is final). */
export async function waitForTask(
  context: EngineContext,
  relay: EventRelay,
  taskId: string,
): Promise<TrainingTask> {
  let job = await context.jobOf(taskId);
  // cancel() removes and re-adds a queued job: read once more before saying "unknown".
  if (!job) {
    await new Promise((resolveLater) => setTimeout(resolveLater, 50));
    job = await context.jobOf(taskId);
  }
  if (!job) throw new NotFoundError(`[engine-bullmq] Unknown task "${taskId}"`);
  // Listen first, then look: a job finishing in between is not missed.
  const finished = relay.whenFinished(taskId);
  // A final record counts even before a worker completes its job (see cancel()).
  const recordedFinal = isFinalTaskState(taskOf(job).state);
  if (context.closed || recordedFinal || (await job.isCompleted()) || (await job.isFailed())) {
    relay.finished(taskId);
  }
  await finished;
  // Closed meanwhile: the task as it was (it goes on in the workers), like the local engine.
  if (context.closed) return taskOf(job);
  const fresh = await context.jobOf(taskId);
  if (!fresh) throw new NotFoundError(`[engine-bullmq] Task "${taskId}" was removed`);
  return taskOf(fresh);
}

/**
 * `engine.cancel`: a durable cancel flag (a worker that takes the job later sees it), a
 * message to the worker running it; a job no worker took yet is recorded cancelled here.
 */
export async function cancelTask(
  context: EngineContext,
  relay: EventRelay,
  taskId: string,
): Promise<TrainingTask> {
  const job = await context.jobOf(taskId);
  if (!job) throw new NotFoundError(`[engine-bullmq] Unknown task "${taskId}"`);
  const task = taskOf(job);
  if (isFinalTaskState(task.state)) return task;
  // Durable first (a worker that takes the job later sees it), then to the running worker.
  await context.redis.set(context.keys.cancel(taskId), "1", "EX", 7 * 24 * 3600);
  await context.redis.publish(context.keys.cancelChannel, taskId);
  // Never started (no worker took it yet): recorded cancelled here, so cancel() does not
  // wait for a worker.
  const final = await cancelQueuedJob({
    queue: context.queue,
    job,
    task,
    now: context.clock.now(),
  });
  if (final) {
    context.emit({ type: "finished", taskId, task: structuredClone(final) });
    relay.finished(taskId);
    return final;
  }
  return waitForTask(context, relay, taskId);
}
