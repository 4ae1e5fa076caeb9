import type { EngineLogger } from "@trainable/plugin-runtime";
import type { Redis } from "ioredis";
import type { QueueKeys } from "./queue-keys.js";

export interface CancelListenerOptions {
  /** Reads the durable cancel flags. */
  redis: Redis;
  /** A connection of its own for pub/sub (made with `autoResubscribe: false`: it is ours). */
  subscriber: Redis;
  keys: QueueKeys;
  /** How often the flags of the running tasks are read (the worker's `stalledIntervalMs`). */
  intervalMs: number;
  /** The tasks this worker drives now. */
  running(): string[];
  /** Stops a running task (BullMQ's `worker.cancelJob`). */
  cancel(taskId: string): void;
  logger: EngineLogger;
}

export interface CancelListener {
  close(): Promise<void>;
}

/**
 * Delivers cancel requests to the worker running the task. Pub/sub is the fast path, but it
 * has no delivery guarantee (a message published while the subscriber reconnects is lost), so
 * the durable flags `cancel()` sets first are also read — for all running tasks in one round
 * trip — every `intervalMs` and each time the subscriber is subscribed again after a
 * reconnect (subscribed first, then read: a cancel published before the subscription set its
 * flag before publishing, so the read sees it).
 */
export async function listenForCancels(options: CancelListenerOptions): Promise<CancelListener> {
  const { redis, subscriber, keys, logger } = options;
  let subscribed = false;
  let closed = false;

  const checkFlags = async () => {
    const taskIds = options.running();
    if (taskIds.length === 0) return;
    const flags = await redis.mget(taskIds.map((taskId) => keys.cancel(taskId)));
    taskIds.forEach((taskId, i) => {
      if (flags[i] !== null && options.running().includes(taskId)) options.cancel(taskId);
    });
  };
  const subscribe = async () => {
    try {
      await subscriber.subscribe(keys.cancelChannel);
      subscribed = true;
    } catch (error) {
      subscribed = false;
      if (!closed) {
        logger.warn(
          `[engine-bullmq] Could not subscribe to cancel requests (retrying; meanwhile running trainings' cancel flags are read every ${options.intervalMs} ms)`,
          error,
        );
      }
    }
  };
  let inFlight = false;
  const catchUp = async (subscribeFirst: boolean) => {
    if (inFlight) return; // still waiting for Redis: no pile of reads while it is away
    inFlight = true;
    try {
      if (subscribeFirst) await subscribe();
      await checkFlags();
    } catch (error) {
      if (!closed) logger.warn("[engine-bullmq] Could not read cancel requests", error);
    } finally {
      inFlight = false;
    }
  };

  subscriber.on("message", (channel, taskId) => {
    if (channel !== keys.cancelChannel) return;
    if (options.running().includes(taskId)) options.cancel(taskId);
  });
  await subscriber.subscribe(keys.cancelChannel);
  subscribed = true;
  // Every later `ready` is a reconnect: the new connection is not subscribed.
  subscriber.on("ready", () => {
    subscribed = false;
    void catchUp(true);
  });
  const timer = setInterval(() => void catchUp(!subscribed), options.intervalMs);
  timer.unref();

  return {
    async close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
