import type { Redis } from "ioredis";
import type { QueueKeys } from "./queue-keys.js";

/**
 * Replaces a job's data only while `token` holds the job's lock, atomically (one Lua script):
 * the distributed counterpart of the local engine's `driver.lock`. A worker that lost its
 * lock (it stalled past `lockDuration` and the job went to another worker) cannot write its
 * record any more — and since the driver records before every effect on the plugin, it makes
 * no further effect either.
 *
 * Depends on BullMQ's key layout (`{prefix}:{queue}:{id}` hash with field `data`,
 * `{prefix}:{queue}:{id}:lock` holding the worker's token), stable since Bull 3; the
 * integration tests run against the pinned BullMQ, so a change there fails them.
 *
 * Resolves `"ok"`, `"lock-lost"` or `"missing"` (the job was removed).
 */
const SCRIPT = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call("EXISTS", KEYS[2]) == 0 then return -1 end
redis.call("HSET", KEYS[2], "data", ARGV[2])
return 1
`;

export type FencedWriteResult = "ok" | "lock-lost" | "missing";

export async function fencedWriteJobData(
  redis: Redis,
  write: { keys: QueueKeys; jobId: string; token: string; data: unknown },
): Promise<FencedWriteResult> {
  const { keys, jobId, token, data } = write;
  const result = (await redis.eval(
    SCRIPT,
    2,
    keys.lock(jobId),
    keys.job(jobId),
    token,
    JSON.stringify(data),
  )) as number;
  return result === 1 ? "ok" : result === 0 ? "lock-lost" : "missing";
}
