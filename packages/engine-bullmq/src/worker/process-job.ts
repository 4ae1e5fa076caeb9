import { join } from "node:path";
import { CancelledError, isFinalTaskState, parseWith } from "@trainable/core";
import type { TrainingTask } from "@trainable/plugin-runtime";
import { CLOSING, type DriveContext, resolvePollPolicy } from "@trainable/plugin-runtime/engine";
import { type Job, WaitingError } from "bullmq";
import type { Redis } from "ioredis";
import type { BullmqWorkerOptions } from "../bullmq-worker-options.js";
import { type ActiveJob, createJobRecord } from "../job-record.js";
import { TrainingJobData } from "../training-job-data.js";
import { driveJob } from "./drive-job.js";
import type { WorkerSettings } from "./worker-settings.js";

/** What processing a job needs from its worker. */
export interface JobProcessor {
  settings: WorkerSettings;
  options: Pick<BullmqWorkerOptions, "pollPolicy" | "hooks" | "maxUpdatesPerTask">;
  redis: Redis;
  ensureRegistered: DriveContext["ensureRegistered"];
  /** The jobs being driven, by task id. */
  active: Map<string, ActiveJob>;
}

/**
 * BullMQ's processor of a training job: drives its task (records fenced by the job's lock)
 * and answers the final task as the job's result. A job it cannot finish — the worker is
 * closing, or Redis refused its records — goes back to the queue unfinished (`WaitingError`),
 * to be resumed from its record; a lost lock fails this attempt.
 */
export async function processJob(
  processor: JobProcessor,
  job: { job: Job<TrainingJobData, TrainingTask>; token?: string; signal?: AbortSignal },
): Promise<TrainingTask> {
  const { settings, active } = processor;
  const { token, signal } = job;
  if (!job.job.id || !token) throw new Error("[engine-bullmq] A job without id or lock token");
  const data = parseWith(
    TrainingJobData,
    job.job.data,
    `training job ${job.job.id}`,
    "engine-bullmq",
  );
  const { task, instance } = data;
  // The last worker recorded the end but did not complete the job: its result stands.
  if (isFinalTaskState(task.state)) return task;

  const entry: ActiveJob = { controller: new AbortController(), lockLost: false, gaveUp: false };
  const { controller } = entry;
  const cancelled = () => new CancelledError("[engine-bullmq] Training cancelled");
  signal?.addEventListener("abort", () => controller.abort(cancelled()), { once: true });
  active.set(task.taskId, entry);
  const ctx = driveContext(processor, {
    record: createJobRecord({
      redis: processor.redis,
      keys: settings.keys,
      job: job.job,
      token,
      data,
      entry,
      clock: settings.clock,
      logger: settings.logger,
      retryBudgetMs: settings.recordRetryMs,
    }),
  });
  try {
    const final = await driveJob(ctx, {
      settings,
      redis: processor.redis,
      task,
      instance,
      controller,
    });
    // Recorded final (even if closing began meanwhile): that is the job's result.
    if (isFinalTaskState(final.state)) return final;
    if (controller.signal.reason !== CLOSING && !entry.gaveUp) {
      // Not final and not stopped: the driver could not record its end (see the logs).
      throw new Error(`[engine-bullmq] Training ${task.taskId} stopped unfinished`);
    }
  } catch (error) {
    // A record that could not be made stops the driver wherever it was thrown from (even
    // from a cancel's final record: the next worker sees the cancel flag).
    if (controller.signal.reason !== CLOSING && !entry.gaveUp) throw error;
  } finally {
    active.delete(task.taskId);
  }
  if (entry.lockLost) {
    throw new Error(`[engine-bullmq] Gave up training ${task.taskId}: lock lost`);
  }
  // Closing, or Redis refused its records: hand the job back unfinished; a worker resumes
  // it from its record. Should Redis refuse that too, the job is left active without lock
  // renewal, and the stalled-job check hands it back once its lock expires.
  await job.job
    .moveToWait(token)
    .catch((error) =>
      settings.logger.warn(
        `[engine-bullmq] Could not hand training ${task.taskId} back to the queue; it is resumed once its lock expires`,
        error,
      ),
    );
  throw new WaitingError();
}

/** The driver's context on this worker, writing records with `record`. */
function driveContext(
  processor: JobProcessor,
  { record }: Pick<DriveContext, "record">,
): DriveContext {
  const { settings, options } = processor;
  return {
    clock: settings.clock,
    policy: resolvePollPolicy(options.pollPolicy),
    logger: settings.logger,
    hooks: options.hooks ?? {},
    maxUpdates: options.maxUpdatesPerTask ?? 100,
    modelDir: (taskId) => join(settings.dataDir, "tasks", taskId, "model"),
    record,
    contextOf: (instanceId) => ({
      pluginInstanceId: instanceId,
      workspace: settings.store.workspace,
    }),
    ensureRegistered: processor.ensureRegistered,
  };
}
