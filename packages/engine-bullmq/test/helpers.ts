import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
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
    storeDir,
    jobsDir: join(root, "jobs"),
    storeUrl: pathToFileURL(storeDir).href,
    countDir: join(root, "counts"),
    workerDir: (n: number) => join(root, `worker-${n}`),
    store: () => createCheckpointStore({ url: pathToFileURL(storeDir).href, workspace: "ws" }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * Ref versions written for a handle in a `file:` store (workspace "ws"): one per save to that
 * handle, and for `default` one per move — counted at the backend, so a duplicate save or
 * move shows even when it wrote the same content.
 */
export async function refVersions(storeDir: string, instance: string, handle: string) {
  return (await readdir(join(storeDir, "ws", instance, "refs", handle)).catch(() => [])).length;
}

const CHILD = fileURLToPath(new URL("./__fixtures__/worker-child.mjs", import.meta.url));

export interface ChildWorker {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<NodeJS.Signals | null>;
  waitFor(predicate: (line: Record<string, unknown>) => boolean): Promise<void>;
  /** SIGKILLs it (if still running) and waits for it to exit. */
  kill(): Promise<void>;
}

/** A worker process (`__fixtures__/worker-child.mjs`) printing its driver points as JSON lines. */
export function startChildWorker(config: Record<string, unknown>): ChildWorker {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, WORKER: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    lines.push(JSON.parse(line));
    for (const wake of waiters) wake();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  return {
    child,
    lines,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    waitFor: (predicate) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (lines.some(predicate)) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        child.once("exit", () => {
          waiters.delete(check);
          if (!lines.some(predicate)) reject(new Error("the worker exited before that line"));
        });
        check();
      }),
  };
}

/**
 * A Redis ACL user of this test (all permissions at first) and its URL: a worker connected
 * as it can be refused writes or channels (`ACL SETUSER`) without touching the other
 * clients of the shared server. `restrict("-@write")`, `restrict("+@all", "allchannels")`.
 */
export async function aclUser() {
  const { Redis } = await import("ioredis");
  const redis = inject("redis");
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  const name = `${redis.prefix}-u-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  await admin.call("ACL", "SETUSER", name, "reset", "on", `>${password}`, "~*", "&*", "+@all");
  const url = new URL(redis.url);
  url.username = name;
  url.password = password;
  return {
    name,
    password,
    url: url.href,
    admin,
    restrict: (...rules: string[]) => admin.call("ACL", "SETUSER", name, ...rules),
    async cleanup() {
      await admin.call("ACL", "DELUSER", name).catch(() => {});
      await admin.quit();
    },
  };
}
