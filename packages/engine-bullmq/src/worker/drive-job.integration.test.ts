import { join } from "node:path";
import type { EngineInstance, TrainingTask } from "@trainable/plugin-runtime";
import { type DriveContext, resolvePollPolicy } from "@trainable/plugin-runtime/engine";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import * as plugins from "../../test/__fixtures__/plugins.mjs";
import { countJobs, ExternalTagger, jobStateOf } from "../../test/__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "../../test/helpers.js";
import { createBullmqEngine } from "../create-bullmq-engine.js";
import { driveJob } from "./drive-job.js";
import { workerSettings } from "./worker-settings.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

const silent = { warn() {}, error() {} };

/** The fixture's fake external service (not in its type declarations). */
const { fakeJobs } = plugins as unknown as {
  fakeJobs: { submit(jobsDir: string, spec: { token: string; jobMs?: number }): Promise<string> };
};

/**
 * A training queued by an engine (an external-job plugin), and `drive(task)` running
 * `driveJob` on it as a worker would, its records kept in `records` (the job record's own
 * tests are process-job's; here the driver's choices are checked).
 */
async function setup(options: { workerPlugins?: boolean } = {}) {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
  closers.push(() => engine.close());
  engine.registerPlugin("external", new ExternalTagger());
  await engine.createInstance({
    id: "ext",
    plugin: "external",
    config: { jobsDir: dirs.jobsDir, countDir: dirs.countDir },
  });
  const run = await engine.startTraining("ext", {
    trainingParams: { keywords: ["k"], jobMs: 0, retryAfterMs: 10 },
  });
  const job = await engine.queue.getJob(run.taskId);
  if (!job) throw new Error("no job");
  const { task, instance } = job.data;
  const redis = new Redis(queue.connection, { maxRetriesPerRequest: null });
  closers.push(() => redis.quit());
  const settings = workerSettings({
    ...queue,
    store: await dirs.store(),
    plugins: options.workerPlugins === false ? {} : { external: new ExternalTagger() },
    dataDir: dirs.workerDir(1),
    logger: silent,
  });
  const records: Array<{ type?: string; task: TrainingTask }> = [];
  const registered: string[] = [];
  const ctx: DriveContext = {
    clock: settings.clock,
    policy: resolvePollPolicy(undefined),
    logger: silent,
    hooks: {},
    maxUpdates: 100,
    modelDir: (taskId) => join(settings.dataDir, "tasks", taskId, "model"),
    record: async (current, type) => {
      records.push({ ...(type ? { type } : {}), task: structuredClone(current) });
    },
    contextOf: (pluginInstanceId) => ({ pluginInstanceId, workspace: "ws" }),
    ensureRegistered: async (client, inst: EngineInstance) => {
      registered.push(inst.id);
      await client.registerInstance({ id: inst.id, handle: inst.handle, config: inst.config });
    },
  };
  const drive = (current: TrainingTask) =>
    driveJob(ctx, {
      settings,
      redis,
      task: current,
      instance,
      controller: new AbortController(),
    });
  const flagCancel = () => redis.set(settings.keys.cancel(task.taskId), "1", "EX", 60);
  return { dirs, task, instance, settings, records, registered, drive, flagCancel };
}

describe("driveJob", () => {
  it("drives a task without a cancel flag to its end through the plugin", async () => {
    const { dirs, task, records, drive } = await setup();
    const final = await drive(task);
    expect(final).toMatchObject({ state: "succeeded", phase: "finished" });
    expect(records.at(-1)?.task.state).toBe("succeeded");
    expect(await jobStateOf(dirs.jobsDir, task.taskId)).toBe("succeeded");
  });

  it("fails the task with NOT_FOUND, naming the queue, when its plugin is not on this worker", async () => {
    const { dirs, task, settings, records, drive } = await setup({ workerPlugins: false });
    const final = await drive(task);
    expect(final.state).toBe("failed");
    expect(final.error).toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining(`queue "${settings.keys.queueName}"`),
    });
    expect(records.at(-1)?.task.state).toBe("failed");
    expect(await countJobs(dirs.jobsDir)).toBe(0);
  });

  it("cancels a never-started task with a cancel flag without any call to the plugin", async () => {
    const { dirs, task, records, registered, drive, flagCancel } = await setup();
    await flagCancel();
    const final = await drive(task);
    expect(final).toMatchObject({ state: "cancelled", error: { code: "CANCELLED" } });
    expect(records.at(-1)?.task.state).toBe("cancelled");
    expect(registered).toEqual([]);
    expect(await countJobs(dirs.jobsDir)).toBe(0);
  });

  it("stops the plugin's job of a polling task by its recorded status, then cancels", async () => {
    const { dirs, task, drive, registered, flagCancel } = await setup();
    // A worker submitted the external job and recorded its status, then died.
    const jobId = await fakeJobs.submit(dirs.jobsDir, { token: task.taskId, jobMs: 60_000 });
    const polling: TrainingTask = {
      ...task,
      state: "running",
      phase: "polling",
      remoteStatus: { taskId: task.taskId, state: "running", remoteStatusInput: { jobId } },
    };
    expect(await jobStateOf(dirs.jobsDir, task.taskId)).toBe("running");
    await flagCancel();
    const final = await drive(polling);
    expect(final.state).toBe("cancelled");
    expect(registered).toEqual(["ext"]);
    expect(await jobStateOf(dirs.jobsDir, task.taskId)).toBe("cancelled");
  });

  it("stops a task whose train call may have been in flight by its task id, then cancels", async () => {
    const { dirs, task, drive, flagCancel } = await setup();
    // The train call reached the plugin, its answer was never recorded.
    await fakeJobs.submit(dirs.jobsDir, { token: task.taskId, jobMs: 60_000 });
    const training: TrainingTask = { ...task, state: "running", phase: "training" };
    await flagCancel();
    const final = await drive(training);
    expect(final.state).toBe("cancelled");
    expect(await jobStateOf(dirs.jobsDir, task.taskId)).toBe("cancelled");
    // No second job was submitted.
    expect(await countJobs(dirs.jobsDir)).toBe(1);
  });
});
