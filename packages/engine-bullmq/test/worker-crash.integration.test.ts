import type { TaskEvent } from "@trainable/plugin-runtime";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import {
  CountingTagger,
  countJobs,
  ExternalTagger,
  jobStateOf,
  readCounts,
  SelfSavingTagger,
} from "./__fixtures__/plugins.mjs";
import { refVersions, startChildWorker, testDirs, testQueue } from "./helpers.js";

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
  const childConfig = (n: number, extra: Record<string, unknown> = {}) => ({
    ...queue,
    storeUrl: dirs.storeUrl,
    dataDir: dirs.workerDir(n),
    ...extra,
  });
  /** A second worker, in this process, that recovers what the first left. */
  const startRescuer = async (extra: { maxStalledCount?: number } = {}) => {
    const worker = await createBullmqWorker({
      ...extra,
      ...queue,
      store: await dirs.store(),
      plugins: { counting: new CountingTagger() },
      dataDir: dirs.workerDir(99),
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      logger: { warn: () => {}, error: () => {} },
    });
    closers.push(() => worker.close());
    return worker;
  };
  return { dirs, store, engine, childConfig, startRescuer };
}

describe("worker crash recovery (a worker SIGKILLed mid-training)", () => {
  it("another worker recovers the stalled job; it succeeds once, saved once, default moved once", async () => {
    const { dirs, store, engine, childConfig, startRescuer } = await setup();
    const first = startChildWorker(childConfig(1));
    closers.push(first.kill);
    await first.waitFor((line) => line.ready === true);
    const events: TaskEvent[] = [];
    engine.on("task", (event) => events.push(event));
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 10,
      trainingParams: { keywords: ["delta"], epochMs: 100 },
    });
    // Kill it once training is under way (a progress update has been relayed).
    await expect
      .poll(() => events.some((e) => e.type === "update"), { timeout: 10_000 })
      .toBe(true);
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    expect((await engine.getTask(run.taskId))?.state).toBe("running");

    const killedAt = Date.now();
    await startRescuer();
    const task = await run.done;
    const recoveredInMs = Date.now() - killedAt;
    expect(task.state).toBe("succeeded");
    // Stalled recovery: within lockDuration + 2 stalled intervals (+ the training itself).
    expect(recoveredInMs).toBeLessThan(15_000);
    // The in-process training restarted from scratch on the rescuer (its model state was on
    // the dead worker's disk), with the same task id (a retry): two starts, one save.
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(2);
    expect((await readCounts(dirs.countDir, "save")).get(run.taskId)).toBe(1);
    expect(await refVersions(dirs.storeDir, "tagger", task.save.handle)).toBe(1);
    expect(await refVersions(dirs.storeDir, "tagger", "default")).toBe(1);
    expect(task.attempts).toBe(2);
    const ref = await store.resolve({ pluginInstanceId: "tagger", handle: "default" });
    expect(ref.metadata.trainingTaskId).toBe(run.taskId);
    const job = await engine.queue.getJob(run.taskId);
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(await job?.getState()).toBe("completed");
  });

  it("a worker killed after the save but before recording it: the rescuer answers that save, never a second one", async () => {
    const { dirs, engine, childConfig, startRescuer } = await setup();
    const first = startChildWorker(childConfig(1, { killAt: "before-finish" }));
    closers.push(first.kill);
    await first.waitFor((line) => line.ready === true);
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 2,
      trainingParams: { keywords: ["echo"], epochMs: 20 },
    });
    expect(await first.exited).toBe("SIGKILL");
    expect(first.lines.some((l) => l.point === "before-finish")).toBe(true);
    expect((await engine.getTask(run.taskId))?.phase).toBe("training");

    await startRescuer();
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    expect(task.statusMessage).toContain("found its saved checkpoint");
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
    expect((await readCounts(dirs.countDir, "save")).get(run.taskId)).toBe(1);
  });

  it("a self-saving plugin's worker killed after its save: the rescuer answers that save (one train, one save, one default move)", async () => {
    const { dirs, engine, childConfig } = await setup();
    engine.registerPlugin("selfsaving", new SelfSavingTagger());
    await engine.createInstance({
      id: "self",
      plugin: "selfsaving",
      config: { countDir: dirs.countDir },
    });
    const first = startChildWorker(childConfig(1, { killAt: "after-train" }));
    closers.push(first.kill);
    await first.waitFor((line) => line.ready === true);
    const run = await engine.startTraining("self", {
      trainingEpochs: 2,
      trainingParams: { keywords: ["mine"], epochMs: 20 },
    });
    expect(await first.exited).toBe("SIGKILL");
    const rescuer = await createBullmqWorker({
      ...childConfig(2),
      store: await dirs.store(),
      plugins: { selfsaving: new SelfSavingTagger() },
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      logger: { warn: () => {}, error: () => {} },
    });
    closers.push(() => rescuer.close());
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
    expect(await refVersions(dirs.storeDir, "self", task.save.handle)).toBe(1);
    expect(await refVersions(dirs.storeDir, "self", "default")).toBe(1);
  });

  it("a worker frozen during its save past its lock: the store refuses its late save (one save, one default move)", async () => {
    const { dirs, engine, childConfig, startRescuer } = await setup();
    const first = startChildWorker(childConfig(1));
    closers.push(async () => {
      first.child.kill("SIGCONT");
      await first.kill();
    });
    await first.waitFor((line) => line.ready === true);
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 2,
      trainingParams: { keywords: ["frozen"], epochMs: 20, saveDelayMs: 1_500 },
    });
    const counted = async (event: "save" | "save-ended") =>
      (await readCounts(dirs.countDir, event)).get(run.taskId) ?? 0;
    // Freeze it once its model folder is written: before any write of its save to the store.
    await expect.poll(() => counted("save"), { timeout: 10_000, interval: 10 }).toBe(1);
    first.child.kill("SIGSTOP");
    expect(await counted("save-ended")).toBe(0);
    // Its lock expires; another worker recovers the job, trains again and saves.
    await startRescuer();
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    expect(await counted("save-ended")).toBe(1);
    // The frozen worker wakes up and its save goes on to the store, which refuses it.
    first.child.kill("SIGCONT");
    await expect.poll(() => counted("save-ended"), { timeout: 15_000 }).toBe(2);
    expect(await refVersions(dirs.storeDir, "tagger", task.save.handle)).toBe(1);
    expect(await refVersions(dirs.storeDir, "tagger", "default")).toBe(1);
    expect((await engine.getTask(run.taskId))?.state).toBe("succeeded");
  });

  it("a stale worker that lost its lock cannot record (the fence), so it makes no further effect", async () => {
    const { engine } = await setup();
    const { fencedWriteJobData } = await import("../src/fenced-write.js");
    const { queueKeys } = await import("../src/queue-keys.js");
    const { Redis } = await import("ioredis");
    const queue = testQueue();
    const redis = new Redis(queue.connection, { maxRetriesPerRequest: null });
    closers.push(() => redis.quit());
    const run = await engine.startTraining("tagger", { trainingParams: { keywords: ["z"] } });
    const job = await engine.queue.getJob(run.taskId);
    const keys = queueKeys(engine.queue.opts.prefix as string, engine.queue.name);
    // Nobody holds the lock: any token is refused, the data is untouched.
    expect(
      await fencedWriteJobData(redis, {
        keys,
        jobId: run.taskId,
        token: "not-the-token",
        data: { x: 1 },
      }),
    ).toBe("lock-lost");
    await redis.set(keys.lock(run.taskId), "token-a");
    expect(
      await fencedWriteJobData(redis, {
        keys,
        jobId: run.taskId,
        token: "token-b",
        data: { x: 1 },
      }),
    ).toBe("lock-lost");
    expect(
      await fencedWriteJobData(redis, {
        keys,
        jobId: run.taskId,
        token: "token-a",
        data: job?.data,
      }),
    ).toBe("ok");
    expect(
      await fencedWriteJobData(redis, { keys, jobId: "no-such-job", token: "t", data: {} }),
    ).toBe("lock-lost");
    await redis.set(keys.lock("no-such-job"), "t");
    expect(
      await fencedWriteJobData(redis, { keys, jobId: "no-such-job", token: "t", data: {} }),
    ).toBe("missing");
    await redis.del(keys.lock(run.taskId), keys.lock("no-such-job"));
  });

  it("a training that kills every worker it lands on fails after maxStalledCount recoveries", async () => {
    const { engine, childConfig, startRescuer } = await setup();
    const doomed = childConfig(1, { killAt: "before-train", maxStalledCount: 1 });
    const a = startChildWorker(doomed);
    closers.push(a.kill);
    await a.waitFor((line) => line.ready === true);
    const run = await engine.startTraining("tagger", { trainingParams: { keywords: ["oom"] } });
    expect(await a.exited).toBe("SIGKILL");
    // The next worker recovers it once (stalled count 1) and dies on it too.
    const b = startChildWorker({ ...doomed, dataDir: `${doomed.dataDir}-b` });
    closers.push(b.kill);
    expect(await b.exited).toBe("SIGKILL");
    // A healthy worker finds it stalled a second time: past maxStalledCount 1, BullMQ fails it.
    await startRescuer({ maxStalledCount: 1 });
    const task = await run.done;
    expect(task.state).toBe("failed");
    expect(task.error?.message).toContain("stalled");
    expect(await engine.queue.getJobState(run.taskId)).toBe("failed");
    expect((await engine.listTasks({ state: "failed" })).map((t) => t.taskId)).toEqual([
      run.taskId,
    ]);
  });

  it("a worker whose lock was taken (frozen past lockDuration) stops at its next record, without cancelling the external job", async () => {
    const { dirs, engine } = await setup();
    const { Redis } = await import("ioredis");
    const { queueKeys } = await import("../src/queue-keys.js");
    engine.registerPlugin("external", new ExternalTagger());
    await engine.createInstance({
      id: "ext",
      plugin: "external",
      config: { countDir: dirs.countDir, jobsDir: dirs.jobsDir },
    });
    const queue = { prefix: engine.queue.opts.prefix as string, queueName: engine.queue.name };
    const redis = new Redis(inject("redis").url, { maxRetriesPerRequest: null });
    closers.push(() => redis.quit());
    const warnings: string[] = [];
    const worker = await createBullmqWorker({
      connection: inject("redis").url,
      ...queue,
      store: await dirs.store(),
      plugins: { external: new ExternalTagger() },
      dataDir: dirs.workerDir(1),
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      logger: { warn: (m, e) => warnings.push(`${m} ${e}`), error: () => {} },
    });
    closers.push(() => worker.close());
    const run = await engine.startTraining("ext", {
      trainingParams: { keywords: ["fence"], jobMs: 2_500, retryAfterMs: 100 },
    });
    await expect
      .poll(async () => (await engine.getTask(run.taskId))?.phase, { timeout: 10_000 })
      .toBe("polling");
    // As if the worker froze past its lock and another worker took the job: the lock now
    // holds someone else's token (it expires in 1 s, as an abandoned lock would).
    const keys = queueKeys(queue.prefix, queue.queueName);
    await redis.set(keys.lock(run.taskId), "another-worker", "PX", 1_000);
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    // The stale driver made no effect after losing the lock: the external job was neither
    // cancelled nor started again, and it was saved once.
    expect(await jobStateOf(dirs.jobsDir, run.taskId)).toBe("succeeded");
    expect(await countJobs(dirs.jobsDir)).toBe(1);
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
    expect(await refVersions(dirs.storeDir, "ext", task.save.handle)).toBe(1);
    const job = await engine.queue.getJob(run.taskId);
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
    // The stale driver gave up (its record was refused); BullMQ then refused its token too.
    expect(warnings.some((w) => /lock mismatch/i.test(w))).toBe(true);
  });
});
