import { randomBytes } from "node:crypto";
import { validateId } from "@trainable/core";
import type { TaskEvent, TrainingTask } from "@trainable/plugin-runtime";
import { parseInstanceSpec, toPluginClient } from "@trainable/plugin-runtime/engine";
import { Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { CountingTagger } from "../../test/__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "../../test/helpers.js";
import type { TaskProgress } from "../task-progress.js";
import type { TrainingJobData } from "../training-job-data.js";
import { closeEngineContext, createEngineContext } from "./engine-context.js";
import { createInstance } from "./engine-instances.js";
import { enqueueTraining } from "./enqueue-training.js";
import { relayEvents } from "./relay-events.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** Two engines' contexts on one queue (each relaying its events), a "tagger" instance. */
async function setup() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const open = async () => {
    const store = await dirs.store();
    const context = await createEngineContext({ ...queue, store });
    closers.push(() => closeEngineContext(context));
    context.plugins.set("counting", toPluginClient(new CountingTagger(), { store }));
    const relay = relayEvents(context);
    const events: TaskEvent[] = [];
    context.emitter.on("task", (event: TaskEvent) => events.push(event));
    return { context, relay, events };
  };
  const a = await open();
  const b = await open();
  await createInstance(
    a.context,
    parseInstanceSpec({ id: "tagger", plugin: "counting", config: { countDir: dirs.countDir } }),
  );
  const enqueue = (on: typeof a, taskId: string) =>
    enqueueTraining(on.context, {
      instanceId: validateId("tagger", "instanceId"),
      input: { trainingParams: { keywords: ["x"] } },
      options: { taskId },
      relay: on.relay,
    });
  /** Takes the next job as a worker would (a lock token of its own). */
  const taker = new Worker<TrainingJobData, TrainingTask>(queue.queueName, undefined, {
    connection: a.context.redis.duplicate(),
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
  return { a, b, enqueue, take };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("relayEvents", () => {
  it("emits `created` for a task another engine queued, read from its job; the queuing engine not twice", async () => {
    const { a, b, enqueue } = await setup();
    const task = await enqueue(b, "t-other");
    await expect
      .poll(() => a.events.filter((e) => e.type === "created" && e.taskId === "t-other"))
      .toHaveLength(1);
    const created = a.events.find((e) => e.taskId === "t-other");
    expect(created?.task).toMatchObject({ taskId: "t-other", state: "waiting" });
    expect(created?.task.createdAt).toBe(task.createdAt);
    await settle();
    // b emitted its own `created` when it queued the task; its relay let `added` pass.
    expect(b.events.filter((e) => e.type === "created")).toHaveLength(1);
    expect(a.events.filter((e) => e.type === "created")).toHaveLength(1);
  });

  it("relays a job's progress as the task event it carries, in order, and ignores other progress", async () => {
    const { a, enqueue, take } = await setup();
    const task = await enqueue(a, "t-progress");
    const { job } = await take();
    const update = { statusMessage: "epoch 1 of 2" };
    const progress: TaskProgress[] = [
      { type: "started", taskId: "t-progress", task: { ...task, state: "running" } },
      { type: "update", taskId: "t-progress", task: { ...task, state: "running" }, update },
    ];
    await job.updateProgress(42); // not a task event: not relayed
    for (const p of progress) await job.updateProgress(p as unknown as object);
    await expect
      .poll(() => a.events.filter((e) => e.taskId === "t-progress").map((e) => e.type))
      .toEqual(["created", "started", "update"]);
    const relayed = a.events.at(-1);
    expect(relayed).toEqual({
      type: "update",
      taskId: "t-progress",
      task: expect.objectContaining({ state: "running" }),
      update,
    });
    expect(a.events[1]).not.toHaveProperty("update");
  });

  it("wakes the waiters of a task when its job completes or fails, not those of others", async () => {
    const { a, enqueue, take } = await setup();
    const first = await enqueue(a, "t-done");
    await enqueue(a, "t-fail");
    await enqueue(a, "t-other");
    const woken: string[] = [];
    const wait = (taskId: string) =>
      a.relay.whenFinished(taskId).then(() => void woken.push(taskId));
    const waits = [wait("t-done"), wait("t-done"), wait("t-fail"), wait("t-other")];
    const done = await take();
    await done.job.moveToCompleted({ ...first, state: "succeeded" }, done.token, false);
    const failing = await take();
    await failing.job.moveToFailed(new Error("boom"), failing.token, false);
    await expect.poll(() => woken.length).toBe(3);
    expect(woken.sort()).toEqual(["t-done", "t-done", "t-fail"]);
    // `finished(taskId)` wakes a task's waiters by hand (its final record is known).
    a.relay.finished("t-other");
    await Promise.all(waits);
    expect(woken).toContain("t-other");
  });

  it("finishAll wakes every waiter (the engine closes)", async () => {
    const { a } = await setup();
    let woken = 0;
    const waits = ["x", "y", "y"].map((id) => a.relay.whenFinished(id).then(() => void woken++));
    await settle();
    expect(woken).toBe(0);
    a.relay.finishAll();
    await Promise.all(waits);
    expect(woken).toBe(3);
  });

  it("does not emit `created` again for a job queued back under an id it announced", async () => {
    const { a, b, enqueue } = await setup();
    await enqueue(b, "t-again");
    await expect.poll(() => a.events.filter((e) => e.type === "created")).toHaveLength(1);
    // Queued back with the same id (as cancel() does with a final record).
    const job = await a.context.queue.getJob("t-again");
    if (!job) throw new Error("no job");
    await job.remove();
    await a.context.queue.add("train", job.data, { jobId: "t-again" });
    await settle();
    expect(a.events.filter((e) => e.type === "created")).toHaveLength(1);
  });
});
