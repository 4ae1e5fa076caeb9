import type { CheckpointStore } from "@trainable/core";
import type {
  Clock,
  EngineInstance,
  EngineLogger,
  EngineTrainOptions,
  TrainingEngine,
  TrainingTask,
} from "@trainable/plugin-runtime";
import type { Queue } from "bullmq";
import type { RedisConnection } from "./redis-connection.js";
import type { TrainingJobData } from "./training-job-data.js";

export interface BullmqEngineOptions {
  /** The Redis of the queue: a `redis://` URL, ioredis options or an ioredis client. */
  connection: RedisConnection;
  /**
   * How long to wait for Redis when starting (connected, database selected) before failing
   * with a `RemoteError` naming host:port and the first connection error. Once started,
   * a lost connection is retried for ever (a Redis restart is waited out). Default 10 s.
   */
  connectTimeoutMs?: number;
  /** The queue's name. Default `trainings`. */
  queueName?: string;
  /** Prefix of every Redis key. Default `trainable`. */
  prefix?: string;
  /** The shared store the workers save to (its workspace goes into requests). */
  store: CheckpointStore;
  /** Overall timeout of a training when `train` is given none. Default 24 h. */
  defaultTimeoutMs?: number;
  clock?: Clock;
  /** Where warnings go (e.g. a job skipped by `listTasks`). Default: the console. */
  logger?: EngineLogger;
}

/** Options of a training on the distributed engine. */
export interface BullmqTrainOptions extends EngineTrainOptions {
  /**
   * The task's id, and its idempotency key: the job id in BullMQ. Asking again with the same
   * id (e.g. after a lost answer) returns the task already queued, never a second training.
   * Default: a random UUID.
   */
  taskId?: string;
}

export interface BullmqEngine extends TrainingEngine {
  readonly store: CheckpointStore;
  readonly queue: Queue<TrainingJobData, TrainingTask>;
  startTraining(
    instanceId: string,
    input: Parameters<TrainingEngine["startTraining"]>[1],
    options?: BullmqTrainOptions,
  ): ReturnType<TrainingEngine["startTraining"]>;
  getInstance(id: string): Promise<EngineInstance | undefined>;
  listInstances(): Promise<EngineInstance[]>;
  getTask(taskId: string): Promise<TrainingTask | undefined>;
  listTasks(filter?: Parameters<TrainingEngine["listTasks"]>[0]): Promise<TrainingTask[]>;
}
