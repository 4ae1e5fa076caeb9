import { EventEmitter } from "node:events";
import {
  type CheckpointStore,
  checkCheckpointStore,
  checkOptionsObject,
  TrainableError,
} from "@trainable/core";
import {
  type Clock,
  type EngineLogger,
  type PluginClient,
  systemClock,
  type TaskEvent,
  type TrainingTask,
} from "@trainable/plugin-runtime";
import { checkTimeout, consoleLogger, DEFAULT_TIMEOUT_MS } from "@trainable/plugin-runtime/engine";
import { type Job, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { BullmqEngineOptions } from "../bullmq-engine-options.js";
import { DEFAULT_PREFIX, DEFAULT_QUEUE, type QueueKeys, queueKeys } from "../queue-keys.js";
import { checkConnectTimeout, connectRedis, type OwnedRedis } from "../redis-connection.js";
import type { TrainingJobData } from "../training-job-data.js";

export type TrainingJob = Job<TrainingJobData, TrainingTask>;

/** What the distributed engine's parts share: its settings, queue, connections and events. */
export interface EngineContext {
  readonly store: CheckpointStore;
  readonly clock: Clock;
  readonly logger: EngineLogger;
  readonly defaultTimeoutMs: number;
  readonly keys: QueueKeys;
  readonly main: OwnedRedis;
  readonly redis: Redis;
  readonly eventsConnection: Redis;
  readonly queue: Queue<TrainingJobData, TrainingTask>;
  readonly queueEvents: QueueEvents;
  readonly plugins: Map<string, PluginClient>;
  readonly emitter: EventEmitter;
  closed: boolean;
  emit(event: TaskEvent): void;
  assertOpen(): void;
  /** The job of a task, if Redis has it. */
  jobOf(taskId: string): Promise<TrainingJob | undefined>;
}

/** Checks the options, connects to Redis (within the connect timeout) and opens the queue. */
export async function createEngineContext(options: BullmqEngineOptions): Promise<EngineContext> {
  const site = { component: "engine-bullmq", call: "createBullmqEngine" };
  checkOptionsObject(options, { ...site, expected: "({ connection, store, queueName? })" });
  checkCheckpointStore(options.store, site);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? consoleLogger;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkTimeout(defaultTimeoutMs, { field: "defaultTimeoutMs", component: "engine-bullmq" });
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
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);

  const context: EngineContext = {
    store: options.store,
    clock,
    logger,
    defaultTimeoutMs,
    keys,
    main,
    redis: main.redis,
    eventsConnection,
    queue,
    queueEvents,
    plugins: new Map(),
    emitter,
    closed: false,
    emit: (event) => emitter.emit("task", event),
    assertOpen() {
      if (context.closed) {
        throw new TrainableError("INTERNAL", "[engine-bullmq] The engine is closed");
      }
    },
    jobOf: async (taskId) => (await queue.getJob(taskId)) ?? undefined,
  };
  return context;
}

/** Closes what `createEngineContext` opened: queue events, the queue, both Redis connections. */
export async function closeEngineContext(context: EngineContext): Promise<void> {
  await context.queueEvents.close();
  await context.queue.close();
  await context.eventsConnection.quit().catch(() => context.eventsConnection.disconnect());
  await context.main.close();
}
