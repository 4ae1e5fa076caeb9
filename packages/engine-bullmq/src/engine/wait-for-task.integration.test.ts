import { randomBytes } from "node:crypto";
import { validateId } from "@trainable/core";
import type { TaskEvent, TrainingTask } from "@trainable/plugin-runtime";
import { parseInstanceSpec, toPluginClient } from "@trainable/plugin-runtime/engine";
import { Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { CountingTagger } from "../../test/__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "../../test/helpers.js";
import type { TrainingJobData } from "../training-job-data.js";
import { closeEngineContext, createEngineContext } from "./engine-context.js";
import { createInstance } from "./engine-instances.js";
import { enqueueTraining } from "./enqueue-training.js";
import { relayEvents } from "./relay-events.js";
import { cancelTask, waitForTask } from "./wait-for-task.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** An engine context with a "tagger" instance; `take()` takes a job as a worker would. */
async function setup() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const store = await dirs.store();
  const context = await createEngineContext({ ...queue, store });
  closers.push(() => closeEngineContext(context));
  context.plugins.set("counting", toPluginClient(new CountingTagger(), { store }));
  await createInstance(
    context,
    parseInstanceSpec({ id: "tagger", plugin: "counting", config: { countDir: dirs.countDir } }),
  );
  const relay = relayEvents(context);
  const events: TaskEvent[] = [];
  context.emitter.on("task", (event: TaskEvent) => events.push(event));
  const enqueue = (taskId: string) =>
    enqueueTraining(context, {
      instanceId: validateId("tagger", "instanceId"),
      input: { trainingParams: { keywords: ["x"] } },
      options: { taskId },
      relay,
    });
  const taker = new Worker<TrainingJobData, TrainingTask>(queue.queueName, undefined, {
    connection: context.redis.duplicate(),
    prefix: queue.prefix,
    autorun: false,
  });
  closers.push(() => taker.close());
  const take = async () => {
    const token = randomBytes(8).toString("hex");
    const job = await taker.getNextJob(token);
    if (!job) throw new Error("no job to take");
    return { job, token };
  };
  return { context, relay, events, enqueue, take };
}

const finalOf = (task: TrainingTask, state: "succeeded" | "cancelled"): TrainingTask => ({
  ...task,
  state,
  phase: "finished",
  finishedAt: task.createdAt,
});

describe("waitForTask", () => {
  it("resolves with the job's result once a worker completes it", async () => {
    const { context, relay, enqueue, take } = await setup();
    const task = await enqueue("t-wait");
    let settled: TrainingTask | undefined;
    const waiting = waitForTask(context, relay, "t-wait").then((t) => {
      settled = t;
      return t;
    });
    const { job, token } = await take();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBeUndefined();
    await job.moveToCompleted(finalOf(task, "succeeded"), token, false);
    expect(await waiting).toMatchObject({ taskId: "t-wait", state: "succeeded" });
  });

  it("resolves at once for a job that completed (or failed) before the wait", async () => {
    const { context, relay, enqueue, take } = await setup();
    const task = await enqueue("t-done");
    await enqueue("t-failed");
    const done = await take();
    await done.job.moveToCompleted(finalOf(task, "succeeded"), done.token, false);
    const failed = await take();
    await failed.job.moveToFailed(new Error("worker gave up"), failed.token, false);
    expect((await waitForTask(context, relay, "t-done")).state).toBe("succeeded");
    // BullMQ failed the job without a final record: the task reads failed, with the reason.
    expect(await waitForTask(context, relay, "t-failed")).toMatchObject({
      state: "failed",
      error: { code: "INTERNAL", message: expect.stringContaining("worker gave up") },
    });
  });

  it("answers the task as it is once the engine is closed", async () => {
    const { context, relay, enqueue } = await setup();
    await enqueue("t-open");
    context.closed = true;
    expect(await waitForTask(context, relay, "t-open")).toMatchObject({ state: "waiting" });
    context.closed = false;
  });

  it("fails with NOT_FOUND for a task the queue does not have", async () => {
    const { context, relay } = await setup();
    await expect(waitForTask(context, relay, "t-none")).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining('"t-none"'),
    });
  });
});

describe("cancelTask", () => {
  it("records a queued task cancelled itself, emits finished and leaves a durable cancel flag", async () => {
    const { context, relay, events, enqueue } = await setup();
    await enqueue("t-queued");
    const final = await cancelTask(context, relay, "t-queued");
    expect(final).toMatchObject({
      state: "cancelled",
      phase: "finished",
      error: { code: "CANCELLED" },
    });
    expect(await context.redis.exists(context.keys.cancel("t-queued"))).toBe(1);
    expect(await context.redis.ttl(context.keys.cancel("t-queued"))).toBeGreaterThan(0);
    // Queued back with its final record; waits answer it at once.
    const job = await context.queue.getJob("t-queued");
    expect(job?.data.task.state).toBe("cancelled");
    expect(events.filter((e) => e.type === "finished").map((e) => e.taskId)).toEqual(["t-queued"]);
    expect((await waitForTask(context, relay, "t-queued")).state).toBe("cancelled");
  });

  it("tells the worker running a task (flag and message) and waits for its final task", async () => {
    const { context, relay, enqueue, take } = await setup();
    const task = await enqueue("t-active");
    const subscriber = context.redis.duplicate();
    closers.push(() => subscriber.quit());
    const messages: string[] = [];
    subscriber.on("message", (_channel: string, message: string) => messages.push(message));
    await subscriber.subscribe(context.keys.cancelChannel);
    const { job, token } = await take();
    const cancelling = cancelTask(context, relay, "t-active");
    await expect.poll(() => messages).toEqual(["t-active"]);
    expect(await context.redis.exists(context.keys.cancel("t-active"))).toBe(1);
    // The worker holds the job: it records the cancel, not the engine.
    expect((await context.queue.getJob("t-active"))?.data.task.state).toBe("waiting");
    await job.moveToCompleted(finalOf(task, "cancelled"), token, false);
    expect(await cancelling).toMatchObject({ taskId: "t-active", state: "cancelled" });
  });

  it("answers a final task as it is (no flag) and an unknown one with NOT_FOUND", async () => {
    const { context, relay, enqueue, take } = await setup();
    const task = await enqueue("t-final");
    const { job, token } = await take();
    await job.moveToCompleted(finalOf(task, "succeeded"), token, false);
    expect((await cancelTask(context, relay, "t-final")).state).toBe("succeeded");
    expect(await context.redis.exists(context.keys.cancel("t-final"))).toBe(0);
    await expect(cancelTask(context, relay, "t-none")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
