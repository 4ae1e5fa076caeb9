/** How tests reach the Redis server of a run (provided by `global-setup.ts`). */
export interface RedisTestConfig {
  /** e.g. `redis://127.0.0.1:6390/0`. */
  url: string;
  host: string;
  port: number;
  /** A key prefix unique to this run (BullMQ `prefix`); its keys are deleted at teardown. */
  prefix: string;
  /** The server's pid and state dir when `scripts/redis/start-redis.sh` started it here. */
  pid?: number;
  dir?: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    redis: RedisTestConfig;
  }
}
