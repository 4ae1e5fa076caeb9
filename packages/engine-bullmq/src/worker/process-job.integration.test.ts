import { randomBytes } from "node:crypto";
import type { TrainingTask } from "@trainable/plugin-runtime";
import { CLOSING } from "@trainable/plugin-runtime/engine";
import { WaitingError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { CountingTagger, readCounts } from "../../test/__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "../../test/helpers.js";
import { createBullmqEngine } from "../create-bullmq-engine.js";
import type { ActiveJob } from "../job-record.js";
import type { TrainingJobData } from "../training-job-data.js";
import { type JobProcessor, processJob } from "./process-job.js";
import { createWorkerRegistrations } from "./worker-registrations.js";
import { workerSettings } from "./worker-settings.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * An engine (to queue trainings) and, in place of a worker, `processJob` fed by a bare BullMQ
 * worker that only takes jobs (`getNextJob`): the test calls the processor itself.
 */
async function setup(plugins: Record<string, CountingTagger> = { counting: new CountingTagger() }) {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
  closers.push(() => engine.close());
  engine.registerPlugin("counting", new CountingTagger());
  await engine.createInstance({
    id: "tagger",
    plugin: "counting",
    config: { countDir: dirs.countDir },
  });
  const redis = new Redis(queue.connection, { maxRetriesPerRequest: null });
  closers.push(() => redis.quit());
  const settings = workerSettings({
    ...queue,
    store: await dirs.store(),
    plugins,
    dataDir: dirs.workerDir(1),
    logger: silent,
  });
  const active = new Map<string, ActiveJob>();
  const processor: JobProcessor = {
    settings,
    options: {},
    redis,
    ensureRegistered: createWorkerRegistrations(),
    active,
  };
  const taker = new Worker<TrainingJobData, TrainingTask>(queue.queueName, undefined, {
    connection: redis.duplicate(),
    prefix: queue.prefix,
    autorun: false,
  });
  closers.push(() => taker.close());
  /** Takes the next job with a lock token of its own. */
  const take = async () => {
    const token = randomBytes(8).toString("hex");
    const job = await taker.getNextJob(token);
    if (!job) throw new Error("no job to take");
    return { job, token };
  };
  return { dirs, engine, redis, settings, processor, active, take };
}

describe("processJob", () => {
  it("drives a queued job to succeeded: the final task is its result and its record", async () => {
    const { dirs, engine, processor, active, take } = await setup();
    const run = await engine.startTraining(
      "tagger",
      { trainingEpochs: 2, trainingParams: { keywords: ["alpha"] } },
      { handle: "v1" },
    );
    const { job, token } = await take();
    expect(job.id).toBe(run.taskId);
    const final = await processJob(processor, { job, token });
    expect(final).toMatchObject({
      taskId: run.taskId,
      state: "succeeded",
      phase: "finished",
      output: { trainingResults: { keywordCount: 1, epochs: 2 } },
    });
    expect(final.updates).toHaveLength(2);
    // Every step was recorded in the job's data (fenced by this token's lock).
    const stored = await engine.queue.getJob(run.taskId);
    expect(stored?.data.task).toMatchObject({ state: "succeeded", phase: "finished" });
    // The checkpoint is in the shared store; the job is no longer active here.
    const ref = await engine.store.resolve({ pluginInstanceId: "tagger", handle: "v1" });
    expect(ref.metadata.trainingTaskId).toBe(run.taskId);
    expect(active.size).toBe(0);
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
  });

  it("answers a recorded final task as is, without calling the plugin", async () => {
    const { dirs, engine, processor, take } = await setup();
    const run = await engine.startTraining("tagger", { trainingParams: { keywords: ["x"] } });
    // Cancelled while queued: the job is queued again carrying its final record.
    const cancelled = await engine.cancel(run.taskId);
    expect(cancelled.state).toBe("cancelled");
    const { job, token } = await take();
    const final = await processJob(processor, { job, token });
    expect(final).toMatchObject({ taskId: run.taskId, state: "cancelled" });
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBeUndefined();
  });

  it("fails the task with NOT_FOUND when its plugin is not on this worker", async () => {
    const { dirs, engine, processor, settings, take } = await setup({});
    const run = await engine.startTraining("tagger", { trainingParams: { keywords: ["x"] } });
    const { job, token } = await take();
    const final = await processJob(processor, { job, token });
    expect(final.state).toBe("failed");
    expect(final.error?.code).toBe("NOT_FOUND");
    expect(final.error?.message).toContain('Plugin "counting"');
    expect(final.error?.message).toContain(settings.keys.queueName);
    expect((await engine.queue.getJob(run.taskId))?.data.task.state).toBe("failed");
    expect((await readCounts(dirs.countDir, "start")).size).toBe(0);
  });

  it("cancels without a train call a job whose cancel flag was set while queued", async () => {
    const { dirs, engine, redis, settings, processor, take } = await setup();
    const run = await engine.startTraining("tagger", { trainingParams: { keywords: ["x"] } });
    await redis.set(settings.keys.cancel(run.taskId), "1", "EX", 60);
    const { job, token } = await take();
    const final = await processJob(processor, { job, token });
    expect(final.state).toBe("cancelled");
    expect(final.error?.code).toBe("CANCELLED");
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBeUndefined();
  });

  it("hands a job back to the queue unfinished (WaitingError) when the worker closes mid-training", async () => {
    const { engine, processor, active, take } = await setup();
    const run = await engine.startTraining("tagger", {
      trainingEpochs: 50,
      trainingParams: { keywords: ["x"], epochMs: 200 },
    });
    const { job, token } = await take();
    const processing = processJob(processor, { job, token });
    const settled = processing.then(
      () => undefined,
      (error: unknown) => error,
    );
    // Once it is training (its first update recorded), the worker begins closing.
    await expect
      .poll(async () => (await engine.queue.getJob(run.taskId))?.data.task.updates.length ?? 0, {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    active.get(run.taskId)?.controller.abort(CLOSING);
    expect(await settled).toBeInstanceOf(WaitingError);
    expect(active.size).toBe(0);
    // Back in the queue, its record not final: the next worker resumes it.
    const stored = await engine.queue.getJob(run.taskId);
    expect(await stored?.getState()).toBe("waiting");
    expect(stored?.data.task.state).not.toMatch(/succeeded|failed|cancelled/);
  });

  it("rejects a job whose data is not a training job, and one without a lock token", async () => {
    const { engine, processor, take } = await setup();
    await engine.queue.add("train", { schemaVersion: 2 } as unknown as TrainingJobData, {
      jobId: "bad-data",
    });
    const { job, token } = await take();
    await expect(processJob(processor, { job, token })).rejects.toMatchObject({
      code: "VALIDATION",
    });
    await expect(processJob(processor, { job })).rejects.toThrow(/without id or lock token/);
  });
});
