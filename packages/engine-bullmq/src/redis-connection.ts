import { ValidationError } from "@trainable/core";
import { Redis, type RedisOptions } from "ioredis";

/** Where Redis is: a `redis://host:port/db` URL, ioredis options, or a client of yours. */
export type RedisConnection = string | RedisOptions | Redis;

export interface OwnedRedis {
  redis: Redis;
  /**
   * Resolves once the client is usable, on the database it was given. Fails (and
   * disconnects a client this package created) when that database does not exist.
   */
  ready(): Promise<void>;
  /** Closes the client if this package created it (a client you pass in stays yours). */
  close(): Promise<void>;
}

/**
 * Makes the ioredis client BullMQ needs (`maxRetriesPerRequest: null`, so commands wait
 * through a Redis restart instead of failing) with an `error` listener (without one, Redis
 * downtime prints unhandled-error noise).
 */
export function connectRedis(
  connection: RedisConnection,
  onError: (error: unknown) => void,
): OwnedRedis {
  if (connection instanceof Redis) {
    return { redis: connection, ready: async () => {}, close: async () => {} };
  }
  let redis: Redis;
  if (typeof connection === "string") {
    if (!/^rediss?:\/\//.test(connection)) {
      throw ValidationError.forField(
        "engine-bullmq",
        "connection",
        `must be a redis:// or rediss:// URL, ioredis options or an ioredis client, got "${connection}"`,
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
  redis.on("error", onError);
  return {
    redis,
    async ready() {
      try {
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

/** `host:port` of a client, for messages (never its password). */
export function whereIs(redis: Redis): string {
  const { host, port, path } = redis.options;
  return path ? path : `${host ?? "localhost"}:${port ?? 6379}`;
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
    const reason = error instanceof Error ? error.message : String(error);
    throw ValidationError.forField(
      "engine-bullmq",
      "connection",
      `database ${db} cannot be selected on Redis at ${whereIs(redis)} (${reason}): the server has fewer databases (its "databases" setting), or use another number`,
    );
  }
}
