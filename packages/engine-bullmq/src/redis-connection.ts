import { RemoteError, ValidationError } from "@trainable/core";
import { Redis, type RedisOptions } from "ioredis";

/** Where Redis is: a `redis://host:port/db` URL, ioredis options, or a client of yours. */
export type RedisConnection = string | RedisOptions | Redis;

/** How long `createBullmqEngine` / `createBullmqWorker` wait for Redis by default. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface OwnedRedis {
  redis: Redis;
  /**
   * Resolves once the client is connected and on the database it was given. Fails — and
   * disconnects a client this package created — with a `RemoteError` when Redis does not
   * answer within `timeoutMs` (naming host:port and the first connection error, never the
   * password), or a `ValidationError` when the database does not exist.
   */
  ready(timeoutMs: number): Promise<void>;
  /** Closes the client if this package created it (a client you pass in stays yours). */
  close(): Promise<void>;
}

/**
 * Makes the ioredis client BullMQ needs (`maxRetriesPerRequest: null`, so commands wait
 * through a Redis restart instead of failing) with an `error` listener (without one, Redis
 * downtime prints unhandled-error noise). Errors reach `onError` as their name and message
 * only: ioredis attaches the failed command to its errors, and an `AUTH` carries the password.
 */
export function connectRedis(
  connection: RedisConnection,
  onError: (error: Error) => void,
): OwnedRedis {
  if (connection instanceof Redis) {
    return {
      redis: connection,
      ready: (timeoutMs) => connected(connection, timeoutMs),
      close: async () => {},
    };
  }
  let redis: Redis;
  if (typeof connection === "string") {
    if (!/^rediss?:\/\//.test(connection)) {
      throw ValidationError.forField(
        "engine-bullmq",
        "connection",
        `must be a redis:// or rediss:// URL, ioredis options or an ioredis client, got "${withoutPassword(connection)}"`,
      );
    }
    redis = new Redis(connection, { maxRetriesPerRequest: null });
  } else if (connection !== null && typeof connection === "object") {
    redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  } else {
    throw ValidationError.forField(
      "engine-bullmq",
      "connection",
      "is required: a redis:// URL, ioredis options or an ioredis client",
    );
  }
  redis.on("error", (error: unknown) => onError(safeError(error)));
  return {
    redis,
    async ready(timeoutMs) {
      try {
        await connected(redis, timeoutMs);
        await selectDatabase(redis);
      } catch (error) {
        redis.disconnect();
        throw error;
      }
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Checks a connect timeout option: a positive number of milliseconds. */
export function checkConnectTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw ValidationError.forField(
      "engine-bullmq",
      "connectTimeoutMs",
      `must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

/** `host:port` of a client, for messages (never its password). */
function whereIs(redis: Redis): string {
  const { host, port, path } = redis.options;
  return path ? path : `${host ?? "localhost"}:${port ?? 6379}`;
}

/** An error's name and message only (what ioredis attaches, such as the command, dropped). */
export function safeError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(String(error));
  const safe = new Error(error.message);
  safe.name = error.name;
  return safe;
}

/** Waits for the client's `ready` (connecting a lazy one), at most `timeoutMs`. */
function connected(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let firstError: Error | undefined;
    const onError = (error: unknown) => {
      firstError ??= safeError(error);
    };
    const onReady = () => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      const why = firstError ? `: ${firstError.message}` : " (no answer)";
      reject(
        new RemoteError(
          `[engine-bullmq] Could not connect to Redis at ${whereIs(redis)} within ${timeoutMs} ms${why}`,
          { retryable: true },
        ),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      redis.off("error", onError);
      redis.off("ready", onReady);
    };
    redis.on("error", onError);
    redis.on("ready", onReady);
    // A client made with `lazyConnect` connects on its first command: start it now (its
    // failure comes as an `error` event too).
    if (redis.status === "wait") redis.connect().catch(() => {});
  });
}

/**
 * Selects the client's database explicitly: when the SELECT ioredis sends on connecting
 * fails (a number past the server's `databases`, 16 by default), ioredis only emits an error
 * and carries on — on database 0, where the queue would silently mix with another.
 */
async function selectDatabase(redis: Redis): Promise<void> {
  const db = redis.options.db ?? 0;
  try {
    await redis.select(db);
  } catch (error) {
    const reason = safeError(error).message;
    if (!/DB index|out of range/i.test(reason)) {
      throw new RemoteError(
        `[engine-bullmq] Redis at ${whereIs(redis)} refused the connection: ${reason}`,
      );
    }
    throw ValidationError.forField(
      "engine-bullmq",
      "connection",
      `database ${db} cannot be selected on Redis at ${whereIs(redis)} (${reason}): the server has fewer databases (its "databases" setting), or use another number`,
    );
  }
}

/** A URL with its password (if any) masked, for messages. */
function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}
