import type { TrainingTask } from "@trainable/plugin-runtime";
import { CLOSING } from "@trainable/plugin-runtime/engine";
import { Worker } from "bullmq";
import type { BullmqWorker, BullmqWorkerOptions } from "./bullmq-worker-options.js";
import { listenForCancels } from "./cancel-listener.js";
import type { ActiveJob } from "./job-record.js";
import { connectRedis, safeError } from "./redis-connection.js";
import type { TrainingJobData } from "./training-job-data.js";
import { processJob } from "./worker/process-job.js";
import { createWorkerRegistrations } from "./worker/worker-registrations.js";
import { workerSettings } from "./worker/worker-settings.js";

/**
 * Creates a worker that takes training jobs from the queue and drives each with the same
 * write-ahead driver as the local engine (`driveTraining`): records go to the job's data
 * (fenced by the job's lock), events go out as job progress, the final task is the job's
 * return value. A job recovered from a stalled worker resumes from its record: a train call
 * that may have been in flight is repeated as a retry (the plugin answers a save it already
 * made, or reattaches its external job by the recorded id), status checks continue from
 * the last recorded status.
 */
export async function createBullmqWorker(options: BullmqWorkerOptions): Promise<BullmqWorker> {
  const settings = workerSettings(options);
  const { keys, logger } = settings;
  const ensureRegistered = createWorkerRegistrations();
  // Name and message only: ioredis attaches the failed command (an AUTH has the password).
  const onRedisError = (error: unknown) =>
    logger.warn("[engine-bullmq] Redis connection error (retrying)", safeError(error));
  const main = connectRedis(options.connection, onRedisError);
  await main.ready(settings.connectTimeoutMs);
  // Subscribed again by the cancel listener after a reconnect (ioredis' own resubscribe has
  // no error handler: a refused one would be an unhandled rejection).
  const subscriber = main.redis.duplicate({ autoResubscribe: false });
  subscriber.on("error", onRedisError);
  const active = new Map<string, ActiveJob>();
  const processor = { settings, options, redis: main.redis, ensureRegistered, active };
  let closing = false;

  const worker = new Worker<TrainingJobData, TrainingTask>(
    keys.queueName,
    (job, token, signal) => processJob(processor, { job, token, signal }),
    {
      connection: main.redis,
      prefix: keys.prefix,
      concurrency: options.concurrency ?? 1,
      lockDuration: settings.lockDurationMs,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 20,
      autorun: false,
    },
  );
  worker.on("error", (error) => logger.warn("[engine-bullmq] Worker error", safeError(error)));

  // Cancel requests reach the worker that runs the job, on whichever machine it is.
  const cancels = await listenForCancels({
    redis: main.redis,
    subscriber,
    keys,
    intervalMs: options.stalledIntervalMs ?? 30_000,
    running: () => [...active.keys()],
    cancel: (taskId) => worker.cancelJob(taskId, "cancelled"),
    logger,
  });
  void worker.run().catch((error) => logger.error("[engine-bullmq] Worker stopped", error));
  await worker.waitUntilReady();

  return {
    worker,
    activeTasks: () => [...active.keys()],
    async close() {
      if (closing) return;
      closing = true;
      for (const entry of active.values()) entry.controller.abort(CLOSING);
      await cancels.close();
      await worker.close();
      await subscriber.quit().catch(() => subscriber.disconnect());
      await main.close();
    },
  };
}
