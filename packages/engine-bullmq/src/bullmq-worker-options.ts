import type { CheckpointStore, ModelCache } from "@trainable/core";
import type {
  Clock,
  DriveHooks,
  EngineLogger,
  PluginClient,
  PluginService,
  PollPolicy,
} from "@trainable/plugin-runtime";
import type { Worker } from "bullmq";
import type { RedisConnection } from "./redis-connection.js";

export interface BullmqWorkerOptions {
  /** The Redis of the queue: a `redis://` URL, ioredis options or an ioredis client. */
  connection: RedisConnection;
  /**
   * How long to wait for Redis when starting (connected, database selected) before failing
   * with a `RemoteError` naming host:port and the first connection error. Once started,
   * a lost connection is retried for ever (a Redis restart is waited out). Default 10 s.
   */
  connectTimeoutMs?: number;
  /** The queue's name. Default `trainings`. Engines and workers of one queue use the same. */
  queueName?: string;
  /** Prefix of every Redis key. Default `trainable`. */
  prefix?: string;
  /** Where trainings are saved: a store every worker and server shares (S3). */
  store: CheckpointStore;
  /** The model cache in-process plugins serve through; saves notify it. */
  cache?: ModelCache | false;
  /**
   * The plugins this worker drives, by the name instances were created with: services (run
   * in this process) or clients (e.g. `createHttpPluginClient`). Every worker of a queue
   * must have every plugin of its trainings (see the README).
   */
  plugins: Record<
    string,
    // biome-ignore lint/suspicious/noExplicitAny: any plugin
    PluginService<any, any> | PluginClient
  >;
  /** Local scratch: the in-training model folders of in-process plugins. */
  dataDir: string;
  /** Trainings driven at once by this worker. Default 1. */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (renewed every half of it). A worker that
   * stops renewing (killed, frozen) loses its jobs to the stalled-job check. Default 30 s.
   */
  lockDurationMs?: number;
  /**
   * How long a record Redis refuses with an error (OOM, READONLY, MISCONF) is retried before
   * the worker stops driving the training (no further effect, no cancel) and hands it back
   * to the queue, to be resumed from its last record. Default `lockDurationMs`.
   */
  recordRetryMs?: number;
  /** How often this worker looks for stalled jobs. Default 30 s. */
  stalledIntervalMs?: number;
  /**
   * How many times a job may be recovered from a stalled worker before BullMQ fails it (the
   * task is then read as `failed`). The driver resumes exactly, so recoveries are safe, but a
   * training that kills every worker it runs on (out of memory, say) must stop somewhere.
   * Default 20.
   */
  maxStalledCount?: number;
  pollPolicy?: Partial<PollPolicy>;
  /** Post-updates kept per task (older ones are dropped). Default 100. */
  maxUpdatesPerTask?: number;
  clock?: Clock;
  logger?: EngineLogger;
  /** Observes the driver at its write-ahead points (tests stop the process there). */
  hooks?: DriveHooks;
}

export interface BullmqWorker {
  /** The BullMQ worker (for its events; do not close it directly). */
  readonly worker: Worker;
  /** Task ids being driven by this worker now. */
  activeTasks(): string[];
  /**
   * Stops taking jobs and hands the running ones back to the queue unfinished (another
   * worker resumes them from their record), then closes the connections it made.
   */
  close(): Promise<void>;
}
