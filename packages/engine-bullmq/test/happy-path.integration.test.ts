import type { TaskEvent } from "@trainable/plugin-runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { CountingTagger, readCounts } from "./__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function setup() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const store = await dirs.store();
  const engine = await createBullmqEngine({ ...queue, store });
  closers.push(() => engine.close());
  engine.registerPlugin("counting", new CountingTagger());
  await engine.createInstance({
    id: "tagger",
    plugin: "counting",
    config: { countDir: dirs.countDir },
  });
  const worker = await createBullmqWorker({
    ...queue,
    store: await dirs.store(),
    plugins: { counting: new CountingTagger() },
    dataDir: dirs.workerDir(1),
  });
  closers.push(() => worker.close());
  return { dirs, queue, store, engine, worker };
}

describe("BullMQ engine, one in-process worker", () => {
  it("enqueues a training that a worker drives to succeeded, relaying progress as events", async () => {
    const { dirs, store, engine } = await setup();
    const events: TaskEvent[] = [];
    engine.on("task", (event) => events.push(event));
    const run = await engine.startTraining(
      "tagger",
      { trainingEpochs: 3, trainingParams: { keywords: ["alpha"], epochMs: 30 } },
      { handle: "v1" },
    );
    expect(run.task.state).toBe("waiting");
    const task = await run.done;
    expect(task).toMatchObject({
      taskId: run.taskId,
      state: "succeeded",
      phase: "finished",
      checkpoint: { handle: "v1", setAsDefault: true },
      output: { trainingResults: { keywordCount: 1, epochs: 3 } },
    });
    expect(task.progress).toEqual({ epoch: 3, of: 3 });
    // The saved checkpoint is in the shared store, and `default` names it.
    const ref = await store.resolve({ pluginInstanceId: "tagger", handle: "default" });
    expect(ref.metadata.trainingTaskId).toBe(run.taskId);
    // Exactly one train call and one save.
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
    expect((await readCounts(dirs.countDir, "save")).get(run.taskId)).toBe(1);
    // Events relayed from the worker through BullMQ progress, in order.
    await expect.poll(() => events.some((e) => e.type === "finished")).toBe(true);
    const types = events.filter((e) => e.taskId === run.taskId).map((e) => e.type);
    expect(types[0]).toBe("created");
    expect(types).toContain("started");
    expect(types.filter((t) => t === "update")).toHaveLength(3);
    expect(types.at(-1)).toBe("finished");
    // Events carry the latest post-update only; the record keeps them all.
    for (const event of events) expect(event.task.updates.length).toBeLessThanOrEqual(1);
    expect(task.updates).toHaveLength(3);
    // Reads see the final record.
    expect(await engine.getTask(run.taskId)).toMatchObject({ state: "succeeded" });
    expect((await engine.listTasks({ state: "succeeded" })).map((t) => t.taskId)).toEqual([
      run.taskId,
    ]);
  });

  it("uses the task id as the job id: asking again with the same id queues nothing new", async () => {
    const { dirs, engine } = await setup();
    const input = { trainingParams: { keywords: ["beta"], epochMs: 20 } };
    const first = await engine.startTraining("tagger", input, { taskId: "task-idem-1" });
    const second = await engine.startTraining("tagger", input, { taskId: "task-idem-1" });
    expect(second.task.createdAt).toBe(first.task.createdAt);
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.state).toBe("succeeded");
    expect(b).toEqual(a);
    expect((await readCounts(dirs.countDir, "start")).get("task-idem-1")).toBe(1);
    expect(await engine.listTasks()).toHaveLength(1);
  });

  it("records a failed training once, as a completed job whose task is failed", async () => {
    const { engine } = await setup();
    const task = await engine.train("tagger", { trainingParams: { fail: "bad data" } });
    expect(task.state).toBe("failed");
    expect(task.error?.message).toContain("bad data");
    expect(await engine.queue.getJobState(task.taskId)).toBe("completed");
  });

  it("cancels a running training on the worker (its AbortSignal) and records it cancelled", async () => {
    const { engine } = await setup();
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 100,
      trainingParams: { keywords: ["x"], epochMs: 100 },
    });
    const watched: string[] = [];
    for await (const event of engine.watch(run.taskId)) {
      watched.push(event.type);
      if (event.type === "update") break;
    }
    const started = Date.now();
    const task = await engine.cancel(run.taskId);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(task.state).toBe("cancelled");
    expect(await run.done).toMatchObject({ state: "cancelled" });
  });

  it("watch() yields a snapshot, the events and ends after finished", async () => {
    const { engine } = await setup();
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 2,
      trainingParams: { keywords: ["y"], epochMs: 50 },
    });
    const types: string[] = [];
    for await (const event of engine.watch(run.taskId)) types.push(event.type);
    expect(types[0]).toBe("snapshot");
    expect(types.at(-1)).toBe("finished");
  });

  it("a worker that closes hands its running training back; another worker finishes it", async () => {
    const { dirs, queue, engine, worker } = await setup();
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 20,
      trainingParams: { keywords: ["close"], epochMs: 50 },
    });
    for await (const event of engine.watch(run.taskId)) if (event.type === "update") break;
    expect(worker.activeTasks()).toEqual([run.taskId]);
    await worker.close();
    expect(await engine.queue.getJobState(run.taskId)).toBe("waiting");
    expect((await engine.getTask(run.taskId))?.phase).toBe("training");
    const second = await createBullmqWorker({
      ...queue,
      store: await dirs.store(),
      plugins: { counting: new CountingTagger() },
      dataDir: dirs.workerDir(2),
    });
    closers.push(() => second.close());
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(2);
    expect((await readCounts(dirs.countDir, "save")).get(run.taskId)).toBe(1);
  });

  it("close() settles pending done promises with the task as it was (the training goes on)", async () => {
    const { queue, dirs, worker } = await setup();
    const other = await createBullmqEngine({ ...queue, store: await dirs.store() });
    const run = await other.startTraining("tagger", {
      trainingEpochs: 20,
      trainingParams: { keywords: ["z"], epochMs: 50 },
    });
    await other.close();
    const task = await run.done;
    expect(["waiting", "running"]).toContain(task.state);
    await worker.close();
  });

  it("cancels a queued training at once, with no worker running; a later worker only completes it", async () => {
    const dirs = await testDirs();
    closers.push(dirs.cleanup);
    const queue = testQueue();
    const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
    closers.push(() => engine.close());
    engine.registerPlugin("counting", new CountingTagger());
    await engine.createInstance({
      id: "t",
      plugin: "counting",
      config: { countDir: dirs.countDir },
    });
    const run = await engine.startTraining("t", { trainingParams: { keywords: ["never"] } });
    const started = Date.now();
    const task = await engine.cancel(run.taskId);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(task).toMatchObject({ state: "cancelled", phase: "finished" });
    expect(await run.done).toMatchObject({ state: "cancelled" });
    expect(await engine.getTask(run.taskId)).toMatchObject({ state: "cancelled" });
    expect(await engine.wait(run.taskId)).toMatchObject({ state: "cancelled" });
    const worker = await createBullmqWorker({
      ...queue,
      store: await dirs.store(),
      plugins: { counting: new CountingTagger() },
      dataDir: dirs.workerDir(1),
    });
    closers.push(() => worker.close());
    await expect.poll(() => engine.queue.getJobState(run.taskId)).toBe("completed");
    expect(await engine.getTask(run.taskId)).toMatchObject({ state: "cancelled" });
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBeUndefined();
  });

  it("task ids that share a prefix, enqueued in the same instant, get handles of their own", async () => {
    const { engine } = await setup();
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        engine.startTraining(
          "tagger",
          { trainingParams: { keywords: [`k${i}`] } },
          { taskId: `customer-${String(i).padStart(4, "0")}` },
        ),
      ),
    );
    const tasks = await Promise.all(runs.map((run) => run.done));
    expect(tasks.map((t) => t.state)).toEqual(tasks.map(() => "succeeded"));
    expect(new Set(tasks.map((t) => t.save.handle)).size).toBe(tasks.length);
  });

  it("another engine on the queue sees the same events, created first, finished last", async () => {
    const { queue, dirs, engine } = await setup();
    const observer = await createBullmqEngine({ ...queue, store: await dirs.store() });
    closers.push(() => observer.close());
    const seen: TaskEvent[] = [];
    observer.on("task", (event) => seen.push(event));
    const task = await engine.train("tagger", {
      trainingEpochs: 2,
      trainingParams: { keywords: ["o"], epochMs: 10 },
    });
    await expect.poll(() => seen.some((e) => e.type === "finished")).toBe(true);
    const types = seen.filter((e) => e.taskId === task.taskId).map((e) => e.type);
    expect(types[0]).toBe("created");
    expect(types.filter((t) => t === "created")).toHaveLength(1);
    expect(types).toContain("started");
    expect(types.filter((t) => t === "update")).toHaveLength(2);
    expect(types.at(-1)).toBe("finished");
  });
});
