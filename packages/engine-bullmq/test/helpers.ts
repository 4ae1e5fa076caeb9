import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createCheckpointStore } from "@trainable/storage";
import { inject } from "vitest";
import "../../../tools/redis-server/redis-test-config.js";

/** A queue of its own per test, under the run's key prefix (deleted at teardown). */
export function testQueue(): { connection: string; prefix: string; queueName: string } {
  const redis = inject("redis");
  return {
    connection: redis.url,
    prefix: redis.prefix,
    queueName: `q-${randomBytes(4).toString("hex")}`,
  };
}

/** A temp dir with a file store (shared by the processes of one machine) and count dir. */
export async function testDirs() {
  const root = await mkdtemp(join(tmpdir(), "engine-bullmq-"));
  const storeDir = join(root, "store");
  return {
    root,
    storeUrl: pathToFileURL(storeDir).href,
    countDir: join(root, "counts"),
    workerDir: (n: number) => join(root, `worker-${n}`),
    store: () => createCheckpointStore({ url: pathToFileURL(storeDir).href, workspace: "ws" }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
