import { ValidationError } from "@trainable/core";
import { Redis, type RedisOptions } from "ioredis";

/** Where Redis is: a `redis://host:port/db` URL, ioredis options, or a client of yours. */
export type RedisConnection = string | RedisOptions | Redis;

export interface OwnedRedis {
  redis: Redis;
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
    return { redis: connection, close: async () => {} };
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
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
