import { join, resolve } from "node:path";
import {
  CancelledError,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  isFinalTaskState,
  parseWith,
  ValidationError,
} from "@trainable/core";
import {
  CLOSING,
  createLocalPluginClient,
  type DriveContext,
  driveTraining,
  type EngineInstance,
  type EngineLogger,
  finish,
  type PluginClient,
  type PluginService,
  resolvePollPolicy,
  stopRemote,
  systemClock,
  type TrainingTask,
} from "@trainable/plugin-runtime";
import { type Job, WaitingError, Worker } from "bullmq";
import type { BullmqWorker, BullmqWorkerOptions } from "./bullmq-worker-options.js";
import { listenForCancels } from "./cancel-listener.js";
import { canonicalDigest } from "./canonical-json.js";
import { type ActiveJob, createJobRecord } from "./job-record.js";
import { DEFAULT_PREFIX, DEFAULT_QUEUE, queueKeys } from "./queue-keys.js";
import { checkConnectTimeout, connectRedis, safeError } from "./redis-connection.js";
import { retryRedis } from "./retry-redis.js";
import { TrainingJobData } from "./training-job-data.js";

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
  const site = { component: "engine-bullmq", call: "createBullmqWorker" };
  checkOptionsObject(options, {
    ...site,
    expected: "({ connection, store, plugins, dataDir, … })",
  });
  checkCheckpointStore(options.store, site);
  checkModelCache(options.cache, site);
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw ValidationError.forField(
      "engine-bullmq",
      "dataDir",
      "is required: the worker's local scratch folder (a path)",
    );
  }
  if (options.plugins === null || typeof options.plugins !== "object") {
    throw ValidationError.forField(
      "engine-bullmq",
      "plugins",
      "is required: { [name]: plugin service or client }",
    );
  }
  const store = options.store;
  const cache = options.cache ?? false;
  const dataDir = resolve(options.dataDir);
  const clock = options.clock ?? systemClock;
  const logger: EngineLogger = options.logger ?? {
    warn: (message, error) => console.warn(message, error ?? ""),
    error: (message, error) => console.error(message, error ?? ""),
  };
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  const recordRetryMs = options.recordRetryMs ?? lockDurationMs;
  const connectTimeoutMs = checkConnectTimeout(options.connectTimeoutMs);
  if (!Number.isFinite(recordRetryMs) || recordRetryMs < 0) {
    throw ValidationError.forField(
      "engine-bullmq",
      "recordRetryMs",
      `must be a number of milliseconds, 0 or more, got ${String(recordRetryMs)}`,
    );
  }
  const keys = queueKeys(options.prefix ?? DEFAULT_PREFIX, options.queueName ?? DEFAULT_QUEUE);
  const plugins = new Map<string, PluginClient>();
  for (const [name, plugin] of Object.entries(options.plugins)) {
    plugins.set(
      name,
      "registerInstance" in plugin && "kind" in plugin
        ? (plugin as PluginClient)
        : createLocalPluginClient(plugin as PluginService, { store, cache }),
    );
  }
  // The instance each plugin was last told, by plugin and id: a job whose snapshot differs
  // (the instance was replaced since) registers its own before it is driven.
  const registrations = new Map<string, { digest: string; pending: Promise<void> }>();
  const ensureRegistered = (client: PluginClient, instance: EngineInstance): Promise<void> => {
    const key = `${instance.plugin}\u0000${instance.id}`;
    const digest = canonicalDigest({ handle: instance.handle ?? null, config: instance.config });
    const known = registrations.get(key);
    if (known?.digest === digest) return known.pending;
    const pending = (known?.pending ?? Promise.resolve())
      .catch(() => {})
      .then(() =>
        client.registerInstance({
          id: instance.id,
          handle: instance.handle,
          config: instance.config,
        }),
      )
      .then(() => undefined);
    pending.catch(() => {
      if (registrations.get(key)?.pending === pending) registrations.delete(key);
    });
    registrations.set(key, { digest, pending });
    return pending;
  };

  // Name and message only: ioredis attaches the failed command (an AUTH has the password).
  const onRedisError = (error: unknown) =>
    logger.warn("[engine-bullmq] Redis connection error (retrying)", safeError(error));
  const main = connectRedis(options.connection, onRedisError);
  await main.ready(connectTimeoutMs);
  // Subscribed again by the cancel listener after a reconnect (ioredis' own resubscribe has
  // no error handler: a refused one would be an unhandled rejection).
  const subscriber = main.redis.duplicate({ autoResubscribe: false });
  subscriber.on("error", onRedisError);
  const active = new Map<string, ActiveJob>();
  let closing = false;

  async function processJob(
    job: Job<TrainingJobData, TrainingTask>,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<TrainingTask> {
    if (!job.id || !token) throw new Error("[engine-bullmq] A job without id or lock token");
    const jobId = job.id;
    const data = parseWith(TrainingJobData, job.data, `training job ${jobId}`, "engine-bullmq");
    const task = data.task;
    const instance = data.instance;
    // The last worker recorded the end but did not complete the job: its result stands.
    if (isFinalTaskState(task.state)) return task;

    const entry: ActiveJob = {
      controller: new AbortController(),
      lockLost: false,
      gaveUp: false,
    };
    const { controller } = entry;
    const cancelled = () => new CancelledError("[engine-bullmq] Training cancelled");
    signal?.addEventListener("abort", () => controller.abort(cancelled()), { once: true });
    active.set(task.taskId, entry);

    const record = createJobRecord({
      redis: main.redis,
      keys,
      job,
      token,
      data,
      entry,
      clock,
      logger,
      retryBudgetMs: recordRetryMs,
    });
    const ctx: DriveContext = {
      clock,
      policy: resolvePollPolicy(options.pollPolicy),
      logger,
      hooks: options.hooks ?? {},
      maxUpdates: options.maxUpdatesPerTask ?? 100,
      modelDir: (taskId) => join(dataDir, "tasks", taskId, "model"),
      record,
      contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: store.workspace }),
      ensureRegistered,
    };

    try {
      const final = await drive(ctx, task, instance, controller);
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
    await job
      .moveToWait(token)
      .catch((error) =>
        logger.warn(
          `[engine-bullmq] Could not hand training ${task.taskId} back to the queue; it is resumed once its lock expires`,
          error,
        ),
      );
    throw new WaitingError();
  }

  /** Drives a job's task to its end, or until stopped (`CLOSING`). */
  async function drive(
    ctx: DriveContext,
    task: TrainingTask,
    instance: EngineInstance,
    controller: AbortController,
  ): Promise<TrainingTask> {
    const client = plugins.get(task.plugin);
    if (!client) {
      return await finish(ctx, task, "failed", {
        error: {
          code: "NOT_FOUND",
          message: `[engine-bullmq] Plugin "${task.plugin}" is not registered on this worker: give every worker of queue "${keys.queueName}" the plugins of its trainings`,
        },
      });
    }
    const cancelFlag = await retryRedis(() => main.redis.exists(keys.cancel(task.taskId)), {
      clock,
      budgetMs: recordRetryMs,
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
        await stopRemote(ctx, task, client, instance);
      }
      return await finish(ctx, task, "cancelled", {
        error: { code: "CANCELLED", message: "[engine-bullmq] Training cancelled" },
      });
    }
    return await driveTraining(ctx, task, client, instance, controller);
  }

  const worker = new Worker<TrainingJobData, TrainingTask>(
    keys.queueName,
    (job, token, signal) => processJob(job, token, signal),
    {
      connection: main.redis,
      prefix: keys.prefix,
      concurrency: options.concurrency ?? 1,
      lockDuration: lockDurationMs,
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
