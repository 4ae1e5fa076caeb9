import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  ConflictError,
  checkCheckpointStore,
  checkOptionsObject,
  isFinalTaskState,
  NotFoundError,
  parseWith,
  TrainableError,
  TrainPluginInput,
  ValidationError,
  validateId,
} from "@trainable/core";
import {
  createLocalPluginClient,
  EngineInstance,
  type EngineLogger,
  generateHandle,
  type PluginClient,
  type PluginService,
  systemClock,
  type TaskEvent,
  type TrainingTask,
} from "@trainable/plugin-runtime";
import { type Job, Queue, QueueEvents } from "bullmq";
import type { BullmqEngine, BullmqEngineOptions } from "./bullmq-engine-options.js";
import { cancelQueuedJob } from "./cancel-queued-job.js";
import { DEFAULT_PREFIX, DEFAULT_QUEUE, queueKeys } from "./queue-keys.js";
import { checkConnectTimeout, connectRedis } from "./redis-connection.js";
import { requestDifference } from "./same-request.js";
import { taskOf } from "./task-of-job.js";
import type { TaskProgress } from "./task-progress.js";
import { TRAIN_JOB, type TrainingJobData } from "./training-job-data.js";
import { watchTask } from "./watch-task.js";

const DEFAULT_TIMEOUT_MS = 24 * 60 * 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const ALL_STATES = ["waiting", "delayed", "prioritized", "active", "completed", "failed"] as const;

/**
 * The distributed engine's client side: it creates instances and enqueues trainings (one
 * BullMQ job per task, job id = task id) that workers (`createBullmqWorker`) drive, reads
 * their records, relays their events (job progress) and cancels them on whichever worker
 * runs them. It drives nothing itself; any number of engines and workers share a queue.
 */
export async function createBullmqEngine(options: BullmqEngineOptions): Promise<BullmqEngine> {
  const site = { component: "engine-bullmq", call: "createBullmqEngine" };
  checkOptionsObject(options, { ...site, expected: "({ connection, store, queueName? })" });
  checkCheckpointStore(options.store, site);
  const store = options.store;
  const clock = options.clock ?? systemClock;
  const logger: EngineLogger = options.logger ?? {
    warn: (message, error) => console.warn(message, error ?? ""),
    error: (message, error) => console.error(message, error ?? ""),
  };
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkTimeout(defaultTimeoutMs, "defaultTimeoutMs");
  const connectTimeoutMs = checkConnectTimeout(options.connectTimeoutMs);
  const keys = queueKeys(options.prefix ?? DEFAULT_PREFIX, options.queueName ?? DEFAULT_QUEUE);
  const onRedisError = () => {};
  const main = connectRedis(options.connection, onRedisError);
  await main.ready(connectTimeoutMs);
  const eventsConnection = main.redis.duplicate();
  eventsConnection.on("error", onRedisError);
  const queue = new Queue<TrainingJobData, TrainingTask>(keys.queueName, {
    connection: main.redis,
    prefix: keys.prefix,
  });
  queue.on("error", onRedisError);
  const queueEvents = new QueueEvents(keys.queueName, {
    connection: eventsConnection,
    prefix: keys.prefix,
  });
  queueEvents.on("error", onRedisError);
  await queue.waitUntilReady();
  await queueEvents.waitUntilReady();

  const plugins = new Map<string, PluginClient>();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let closed = false;

  const emit = (event: TaskEvent) => emitter.emit("task", event);
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
      const job = await jobOf(jobId);
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

  const assertOpen = () => {
    if (closed) throw new TrainableError("INTERNAL", "[engine-bullmq] The engine is closed");
  };

  async function jobOf(taskId: string): Promise<Job<TrainingJobData, TrainingTask> | undefined> {
    return (await queue.getJob(taskId)) ?? undefined;
  }

  const engine: BullmqEngine = {
    store,
    queue,

    registerPlugin(name, plugin) {
      assertOpen();
      const pluginName = validateId(name, "plugin name");
      plugins.set(
        pluginName,
        "registerInstance" in plugin && "kind" in plugin
          ? (plugin as PluginClient)
          : createLocalPluginClient(plugin as PluginService, { store }),
      );
    },

    async createInstance(spec) {
      assertOpen();
      const id = validateId(spec?.id, "id");
      const plugin = validateId(spec.plugin, "plugin");
      const handle = spec.handle === undefined ? undefined : validateId(spec.handle, "handle");
      const client = plugins.get(plugin);
      if (!client) {
        throw new NotFoundError(
          `[engine-bullmq] Unknown plugin "${plugin}": register it with engine.registerPlugin("${plugin}", …) first (it validates the config)`,
        );
      }
      const registered = await client.registerInstance({ id, handle, config: spec.config });
      const existing = await engine.getInstance(id);
      const at = clock.now().toISOString();
      const instance: EngineInstance = {
        schemaVersion: 1,
        id,
        plugin,
        ...(handle !== undefined ? { handle } : {}),
        config: registered.config,
        createdAt: existing?.createdAt ?? at,
        updatedAt: at,
      };
      if (existing) {
        const same =
          existing.plugin === plugin &&
          existing.handle === handle &&
          JSON.stringify(existing.config) === JSON.stringify(instance.config);
        if (same) return existing;
        if (!spec.replace) {
          throw new ConflictError(
            `[engine-bullmq] Plugin instance "${id}" already exists with a different plugin, handle or config: pass replace: true to replace it`,
          );
        }
      }
      await main.redis.hset(keys.instances, id, JSON.stringify(instance));
      return structuredClone(instance);
    },

    async getInstance(id) {
      const raw = await main.redis.hget(keys.instances, id);
      if (raw === null) return undefined;
      return parseWith(EngineInstance, JSON.parse(raw), `instance ${id}`, "engine-bullmq");
    },

    async listInstances() {
      const all = await main.redis.hgetall(keys.instances);
      return Object.entries(all).map(([id, raw]) =>
        parseWith(EngineInstance, JSON.parse(raw), `instance ${id}`, "engine-bullmq"),
      );
    },

    async startTraining(instanceId, input, trainOptions = {}) {
      assertOpen();
      const instance = await engine.getInstance(validateId(instanceId, "instanceId"));
      if (!instance) {
        throw new NotFoundError(
          `[engine-bullmq] Unknown plugin instance "${instanceId}": create it with engine.createInstance first`,
        );
      }
      const parsedInput = parseWith(
        TrainPluginInput,
        { ...input, pluginInstance: input?.pluginInstance ?? instance.id },
        "TrainPluginInput",
        "engine-bullmq",
      );
      if (parsedInput.pluginInstance !== instance.id) {
        throw ValidationError.forField(
          "engine-bullmq",
          "pluginInstance",
          `"${parsedInput.pluginInstance}" does not match the instance "${instance.id}" being trained`,
        );
      }
      const timeoutMs = trainOptions.timeoutMs ?? defaultTimeoutMs;
      checkTimeout(timeoutMs, "timeoutMs");
      const taskId =
        trainOptions.taskId === undefined
          ? randomUUID()
          : validateId(trainOptions.taskId, "taskId");
      const handle =
        trainOptions.handle === undefined
          ? // Unique across producers: the generated time-based handle plus a digest of the
            // whole task id (ids a caller picks may share any prefix).
            `${generateHandle(clock.now())}-${createHash("sha256").update(taskId).digest("hex").slice(0, 16)}`
          : validateId(trainOptions.handle, "handle");
      const now = clock.now();
      const task: TrainingTask = {
        schemaVersion: 1,
        taskId,
        instanceId: instance.id,
        plugin: instance.plugin,
        state: "waiting",
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        deadline: new Date(now.getTime() + timeoutMs).toISOString(),
        input: parsedInput,
        save: {
          handle,
          setAsDefault: trainOptions.setAsDefault ?? true,
          // A handle of its own: the store refuses any second save of this task to it.
          ...(trainOptions.handle === undefined ? { createOnly: true } : {}),
        },
        statusChecks: 0,
        updates: [],
      };
      const data: TrainingJobData = { schemaVersion: 1, task, instance };
      createdHere.add(taskId);
      // The job id is the task id: adding it again is a no-op that returns the job queued.
      const job = await queue.add(TRAIN_JOB, data, {
        jobId: taskId,
        attempts: 1,
        removeOnComplete: false,
        removeOnFail: false,
      });
      // `add` answers with the job it was given: read what Redis holds (the first request's
      // task when this id was queued before).
      const stored = (await jobOf(taskId)) ?? (job as Job<TrainingJobData, TrainingTask>);
      const recorded = taskOf(stored);
      if (recorded.taskId === taskId && recorded.createdAt === task.createdAt) {
        emit({ type: "created", taskId, task: structuredClone(recorded) });
      } else {
        createdHere.delete(taskId); // queued before (an idempotent repeat): no `added` comes
        const difference = requestDifference(recorded, {
          instanceId: instance.id,
          input: parsedInput,
          ...(trainOptions.handle !== undefined ? { handle: trainOptions.handle } : {}),
          setAsDefault: trainOptions.setAsDefault ?? true,
        });
        if (difference !== undefined) {
          throw new ConflictError(
            `[engine-bullmq] Task "${taskId}" already exists with a different ${difference}: a task id is the idempotency key of one training request; use a new task id for another training`,
          );
        }
      }
      const signal = trainOptions.signal;
      if (signal) {
        const onAbort = () => void engine.cancel(taskId).catch(() => {});
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
      // `done` never rejects: should Redis fail us, it settles with the task as recorded.
      const done = engine.wait(taskId).catch(() => structuredClone(recorded));
      return { taskId, task: structuredClone(recorded), done };
    },

    async train(instanceId, input, trainOptions) {
      const run = await engine.startTraining(instanceId, input, trainOptions);
      return run.done;
    },

    async cancel(taskId) {
      const job = await jobOf(taskId);
      if (!job) throw new NotFoundError(`[engine-bullmq] Unknown task "${taskId}"`);
      const task = taskOf(job);
      if (isFinalTaskState(task.state)) return task;
      // Durable first (a worker that takes the job later sees it), then to the running worker.
      await main.redis.set(keys.cancel(taskId), "1", "EX", 7 * 24 * 3600);
      await main.redis.publish(keys.cancelChannel, taskId);
      // Never started (no worker took it yet): recorded cancelled here, so cancel() does not
      // wait for a worker.
      const final = await cancelQueuedJob(queue, job, task, clock.now());
      if (final) {
        emit({ type: "finished", taskId, task: structuredClone(final) });
        onFinished({ jobId: taskId });
        return final;
      }
      return engine.wait(taskId);
    },

    async wait(taskId) {
      let job = await jobOf(taskId);
      // cancel() removes and re-adds a queued job: read once more before saying "unknown".
      if (!job) {
        await new Promise((resolveLater) => setTimeout(resolveLater, 50));
        job = await jobOf(taskId);
      }
      if (!job) throw new NotFoundError(`[engine-bullmq] Unknown task "${taskId}"`);
      // Listen first, then look: a job finishing in between is not missed.
      const finished = new Promise<void>((resolveWait) => {
        let waiters = finishWaiters.get(taskId);
        if (!waiters) {
          waiters = new Set();
          finishWaiters.set(taskId, waiters);
        }
        waiters.add(resolveWait);
      });
      // A final record counts even before a worker completes its job (see cancel()).
      const recordedFinal = isFinalTaskState(taskOf(job).state);
      if (closed || recordedFinal || (await job.isCompleted()) || (await job.isFailed())) {
        onFinished({ jobId: taskId });
      }
      await finished;
      // Closed meanwhile: the task as it was (it goes on in the workers), like the local engine.
      if (closed) return taskOf(job);
      const fresh = await jobOf(taskId);
      if (!fresh) throw new NotFoundError(`[engine-bullmq] Task "${taskId}" was removed`);
      return taskOf(fresh);
    },

    async getTask(taskId) {
      const job = await jobOf(taskId);
      return job ? taskOf(job) : undefined;
    },

    async listTasks(filter = {}) {
      const jobs = await queue.getJobs([...ALL_STATES]);
      const tasks: TrainingTask[] = [];
      for (const job of jobs) {
        if (job?.name !== TRAIN_JOB) continue;
        try {
          tasks.push(taskOf(job));
        } catch (error) {
          // One bad record (written by another program, a bug) must not hide all the others.
          logger.warn(
            `[engine-bullmq] listTasks skipped job "${job.id}": its record is not a training task (${(error as Error).message})`,
          );
        }
      }
      return tasks
        .filter((task) => filter.instanceId === undefined || task.instanceId === filter.instanceId)
        .filter((task) => filter.state === undefined || task.state === filter.state)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    watch(taskId, watchOptions = {}) {
      return watchTask(engine, taskId, watchOptions.signal);
    },

    on(event, listener) {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      // Pending wait()s settle with the task as last read (`done` never rejects).
      for (const taskId of [...finishWaiters.keys()]) onFinished({ jobId: taskId });
      emitter.removeAllListeners();
      await queueEvents.close();
      await queue.close();
      await eventsConnection.quit().catch(() => eventsConnection.disconnect());
      await main.close();
    },
  };
  return engine;
}

function checkTimeout(value: number, field: string): void {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw ValidationError.forField(
      "engine-bullmq",
      field,
      `must be a positive number of milliseconds, at most ${MAX_TIMER_MS} (about 24.8 days)`,
    );
  }
}
