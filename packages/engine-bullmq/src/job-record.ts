import { RemoteError, TrainableError } from "@trainable/core";
import type { Clock, EngineLogger, TrainingTask } from "@trainable/plugin-runtime";
import { CLOSING, type DriveContext } from "@trainable/plugin-runtime/engine";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import { fencedWriteJobData } from "./fenced-write.js";
import type { QueueKeys } from "./queue-keys.js";
import { retryRedis } from "./retry-redis.js";
import type { TaskProgress } from "./task-progress.js";
import type { TrainingJobData } from "./training-job-data.js";

/** A job being driven by this worker. */
export interface ActiveJob {
  controller: AbortController;
  /** Its lock holds another token now (or the job was removed). */
  lockLost: boolean;
  /** Redis refused a record for the whole retry budget: the driver stopped. */
  gaveUp: boolean;
}

export interface JobRecordOptions {
  redis: Redis;
  keys: QueueKeys;
  job: Job<TrainingJobData, TrainingTask>;
  token: string;
  data: TrainingJobData;
  entry: ActiveJob;
  clock: Clock;
  logger: EngineLogger;
  /** How long a write failing with a Redis error is repeated before the worker gives up. */
  retryBudgetMs: number;
}

/**
 * The driver's `record()` on a BullMQ job: the task goes into the job's data through the
 * fenced write (only while this worker's token holds the job's lock), then out as the job's
 * progress (the event). The driver records before every effect on the plugin, so when a
 * record cannot be made the driver must stop before its next effect — stopped like a
 * closing engine (`CLOSING`: no cancel of the plugin's job, no final record), leaving the
 * job to be resumed from its last record:
 * - the lock holds another token (this worker stalled and another took the job over), or
 * - Redis keeps answering with an error (OOM, READONLY, MISCONF, a refused write) for
 *   `retryBudgetMs`; a shorter error is ridden out by repeating the write (the live task is
 *   serialized at each try, so a repeat never writes an older version over a newer one).
 */
export function createJobRecord(options: JobRecordOptions): DriveContext["record"] {
  const { redis, keys, job, token, data, entry, clock, logger } = options;
  const jobId = job.id as string;
  const retrying = <T>(call: () => Promise<T>, what: string) =>
    retryRedis(call, {
      clock,
      budgetMs: options.retryBudgetMs,
      stop: () => entry.controller.signal.reason === CLOSING,
      onRetry: (error) =>
        logger.warn(`[engine-bullmq] Redis refused ${what} of training ${jobId}; retrying`, error),
    });

  return async (current, type, update) => {
    current.updatedAt = clock.now().toISOString();
    try {
      const written = await retrying(
        () => fencedWriteJobData(redis, { keys, jobId, token, data: { ...data, task: current } }),
        "the record",
      );
      if (written !== "ok") {
        // Another worker owns the job now (or it was removed): stop without any effect.
        entry.lockLost = true;
        entry.controller.abort(CLOSING);
        throw new TrainableError(
          "CONFLICT",
          `[engine-bullmq] Lost the lock of training ${current.taskId} (${written}): another worker drives it now`,
        );
      }
      if (type) {
        // Events keep only the latest post-update: BullMQ keeps thousands of events in Redis
        // (its events stream), and the whole history is in the record (getTask) anyway.
        const slim = { ...current, updates: current.updates.slice(-1) };
        const progress: TaskProgress = { type, taskId: current.taskId, task: slim };
        if (update !== undefined) progress.update = update;
        await retrying(() => job.updateProgress(progress), "the progress event");
      }
    } catch (error) {
      if (TrainableError.isInstance(error)) throw error;
      const stopped = entry.controller.signal.reason === CLOSING;
      entry.gaveUp = true;
      entry.controller.abort(CLOSING);
      if (!stopped) {
        logger.warn(
          `[engine-bullmq] Worker gave up recording training ${jobId}: Redis refused the write for ${options.retryBudgetMs} ms; it stops without further effect and the job is resumed from its last record`,
          error,
        );
      }
      throw new RemoteError(
        `[engine-bullmq] Could not record training ${jobId}: ${(error as Error)?.message ?? String(error)}`,
        { cause: error, retryable: true },
      );
    }
  };
}
