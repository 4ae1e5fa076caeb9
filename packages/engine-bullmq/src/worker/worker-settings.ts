import { resolve } from "node:path";
import {
  type CheckpointStore,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  type ModelCache,
  ValidationError,
} from "@trainable/core";
import {
  type Clock,
  type EngineLogger,
  type PluginClient,
  systemClock,
} from "@trainable/plugin-runtime";
import { consoleLogger, toPluginClient } from "@trainable/plugin-runtime/engine";
import type { BullmqWorkerOptions } from "../bullmq-worker-options.js";
import { DEFAULT_PREFIX, DEFAULT_QUEUE, type QueueKeys, queueKeys } from "../queue-keys.js";
import { checkConnectTimeout } from "../redis-connection.js";

/** A worker's options, checked and with their defaults. */
export interface WorkerSettings {
  store: CheckpointStore;
  cache: ModelCache | false;
  dataDir: string;
  clock: Clock;
  logger: EngineLogger;
  lockDurationMs: number;
  /** How long a refused Redis write is repeated before the worker gives up the job. */
  recordRetryMs: number;
  connectTimeoutMs: number;
  keys: QueueKeys;
  /** The plugins the worker drives, by name. */
  plugins: Map<string, PluginClient>;
}

/** Checks `createBullmqWorker`'s options (when it is called, before any connection). */
export function workerSettings(options: BullmqWorkerOptions): WorkerSettings {
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
  const plugins = new Map<string, PluginClient>();
  for (const [name, plugin] of Object.entries(options.plugins)) {
    plugins.set(name, toPluginClient(plugin, { store, cache }));
  }
  return {
    store,
    cache,
    dataDir: resolve(options.dataDir),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? consoleLogger,
    lockDurationMs,
    recordRetryMs,
    connectTimeoutMs,
    keys: queueKeys(options.prefix ?? DEFAULT_PREFIX, options.queueName ?? DEFAULT_QUEUE),
    plugins,
  };
}
