import { ValidationError } from "@trainable/core";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { CountingTagger } from "./__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "./helpers.js";

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
});
