import type { EngineInstance, TrainingTask } from "@trainable/plugin-runtime";
import {
  CLOSING,
  type DriveContext,
  driveTraining,
  finish,
  stopRemote,
} from "@trainable/plugin-runtime/engine";
import type { Redis } from "ioredis";
import { retryRedis } from "../retry-redis.js";
import type { WorkerSettings } from "./worker-settings.js";

/**
 * Drives a job's task to its end, or until stopped (`CLOSING`): failed when its plugin is
 * not on this worker, cancelled without any new effect when a cancel was asked while no
 * worker drove it, else by the write-ahead driver.
 */
export async function driveJob(
  ctx: DriveContext,
  job: {
    settings: WorkerSettings;
    redis: Redis;
    task: TrainingTask;
    instance: EngineInstance;
    controller: AbortController;
  },
): Promise<TrainingTask> {
  const { settings, task, instance, controller } = job;
  const { keys, clock, logger } = settings;
  const client = settings.plugins.get(task.plugin);
  if (!client) {
    return await finish(ctx, task, {
      state: "failed",
      error: {
        code: "NOT_FOUND",
        message: `[engine-bullmq] Plugin "${task.plugin}" is not registered on this worker: give every worker of queue "${keys.queueName}" the plugins of its trainings`,
      },
    });
  }
  const cancelFlag = await retryRedis(() => job.redis.exists(keys.cancel(task.taskId)), {
    clock,
    budgetMs: settings.recordRetryMs,
    stop: () => controller.signal.reason === CLOSING,
    onRetry: (error) =>
      logger.warn(`[engine-bullmq] Redis refused a read of training ${task.taskId}`, error),
  }).catch((error) => {
    controller.abort(CLOSING); // nothing done yet: hand it back
    throw error;
  });
  if (cancelFlag === 1) {
    // Cancelled while no worker drove it (queued, or its worker died): no new effect on
    // the plugin — no train call is made or repeated. A task that reached the plugin has
    // its job stopped first: by the recorded status (`remoteStatusInput`) when polling,
    // else by the task id alone (the idempotency key the job was started with).
    const started = task.phase === "training" || task.phase === "polling";
    if (started) {
      await ctx.ensureRegistered(client, instance).catch(() => {});
      await stopRemote(ctx, { task, client, instance });
    }
    return await finish(ctx, task, {
      state: "cancelled",
      error: { code: "CANCELLED", message: "[engine-bullmq] Training cancelled" },
    });
  }
  return await driveTraining(ctx, { task, client, instance, controller });
}
