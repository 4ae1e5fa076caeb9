import { inspect } from "node:util";
import { RemoteError, ValidationError } from "@trainable/core";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { CountingTagger } from "./__fixtures__/plugins.mjs";
import { aclUser, testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function store() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  return { dirs, store: await dirs.store() };
}

/** The error a promise rejects with (fails the test if it resolves: the thing is closed). */
async function rejection(promise: Promise<{ close(): Promise<void> }>): Promise<Error> {
  const result = await promise.then(
    (opened) => {
      closers.push(() => opened.close());
      return undefined;
    },
    (error: unknown) => error as Error,
  );
  if (!result) throw new Error("expected a rejection, but it opened");
  return result;
}

describe("connecting to the queue's Redis", () => {
  it("a database number the server does not have (/99 of 16) is refused, naming it", async () => {
    const { dirs, store: s } = await store();
    const redis = inject("redis");
    const connection = `redis://${redis.host}:${redis.port}/99`;
    const queue = { ...testQueue(), connection };
    const engineError = await rejection(createBullmqEngine({ ...queue, store: s }));
    expect(ValidationError.isInstance(engineError)).toBe(true);
    expect(engineError.message).toMatch(/database 99/);
    const workerError = await rejection(
      createBullmqWorker({
        ...queue,
        store: s,
        plugins: { counting: new CountingTagger() },
        dataDir: dirs.workerDir(1),
        logger: { warn: () => {}, error: () => {} },
      }),
    );
    expect(ValidationError.isInstance(workerError)).toBe(true);
    expect(workerError.message).toMatch(/database 99/);
  });

  it("an unreachable Redis fails within connectTimeoutMs with a RemoteError naming host:port and the error, never the password", async () => {
    const { dirs, store: s } = await store();
    const queue = { ...testQueue(), connection: "redis://someone:s3cret-pw@127.0.0.1:1/0" };
    const logged: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => logged.push(args), error: () => {} };
    const errors = [
      await rejection(createBullmqEngine({ ...queue, store: s, connectTimeoutMs: 300, logger })),
      await rejection(
        createBullmqWorker({
          ...queue,
          store: s,
          plugins: { counting: new CountingTagger() },
          dataDir: dirs.workerDir(1),
          connectTimeoutMs: 300,
          logger,
        }),
      ),
    ];
    for (const error of errors) {
      expect(RemoteError.isInstance(error)).toBe(true);
      expect(error.message).toContain("127.0.0.1:1");
      expect(error.message).toMatch(/ECONNREFUSED/);
      expect(error.message).not.toContain("s3cret-pw");
    }
  });

  it("a refused password fails the same way, without the password in the error or the logs", async () => {
    const { dirs, store: s } = await store();
    const user = await aclUser();
    closers.push(() => user.cleanup());
    const redis = inject("redis");
    const connection = `redis://${user.name}:wrong-pw-123@${redis.host}:${redis.port}/0`;
    const queue = { ...testQueue(), connection };
    const logged: string[] = [];
    const logger = {
      warn: (message: string, error?: unknown) =>
        logged.push(`${message} ${inspect(error, { depth: 5 })}`),
      error: () => {},
    };
    const error = await rejection(
      createBullmqWorker({
        ...queue,
        store: s,
        plugins: { counting: new CountingTagger() },
        dataDir: dirs.workerDir(1),
        connectTimeoutMs: 500,
        logger,
      }),
    );
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/WRONGPASS/);
    expect(error.message).not.toContain("wrong-pw-123");
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join("\n")).not.toContain("wrong-pw-123");
    const engineError = await rejection(
      createBullmqEngine({ ...queue, store: s, connectTimeoutMs: 500 }),
    );
    expect(engineError.message).toMatch(/WRONGPASS/);
    expect(engineError.message).not.toContain("wrong-pw-123");
  });

  it("refuses a connectTimeoutMs that is not a positive number of milliseconds", async () => {
    const { store: s } = await store();
    for (const connectTimeoutMs of [0, -1, Number.NaN]) {
      const error = await rejection(
        createBullmqEngine({ ...testQueue(), store: s, connectTimeoutMs }),
      );
      expect(ValidationError.isInstance(error)).toBe(true);
      expect(error.message).toMatch(/connectTimeoutMs/);
    }
  });

  it("a client of yours not connected yet (lazyConnect) is connected, not waited on until the timeout", async () => {
    const { store: s } = await store();
    const { Redis } = await import("ioredis");
    const client = new Redis(inject("redis").url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
    });
    closers.push(() => client.quit());
    const engine = await createBullmqEngine({
      ...testQueue(),
      connection: client,
      store: s,
      connectTimeoutMs: 5_000,
    });
    closers.push(() => engine.close());
    expect(await engine.listTasks()).toEqual([]);
  });
});
