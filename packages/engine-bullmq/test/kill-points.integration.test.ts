import { afterEach, describe, expect, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import {
  CountingTagger,
  countJobs,
  ExternalTagger,
  jobStateOf,
  readCounts,
} from "./__fixtures__/plugins.mjs";
import { refVersions, startChildWorker, testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/**
 * A worker process SIGKILLs itself at one write-ahead point of the driver; a second worker
 * recovers the stalled job. Whatever the point: the training succeeds once, the external job
 * is started once (re-attached by its recorded id or by the task id as idempotency key),
 * the checkpoint is saved once and `default` moves once — counted at the service and at the
 * store's backend.
 */
const CASES: Array<{ plugin: "counting" | "external"; point: string; trainCalls: number }> = [
  // In-process, synchronous: the train call is the whole training.
  { plugin: "counting", point: "before-train", trainCalls: 1 },
  { plugin: "counting", point: "after-train", trainCalls: 1 },
  { plugin: "counting", point: "before-finish", trainCalls: 1 },
  // External job: train submits it, status checks follow it.
  { plugin: "external", point: "before-train", trainCalls: 1 },
  // Submitted, the answer (its job id) not recorded: the retry submits with the same task id
  // and the service answers the same job.
  { plugin: "external", point: "after-train", trainCalls: 2 },
  { plugin: "external", point: "before-status-check", trainCalls: 1 },
  { plugin: "external", point: "after-status-check", trainCalls: 1 },
  // Saved by the last status check, the result not recorded: the rescuer finds the save.
  { plugin: "external", point: "before-finish", trainCalls: 1 },
];

describe("kill points: a worker killed at each write-ahead point, another resumes exactly", () => {
  it.each(CASES)("$plugin, killed at $point", async ({ plugin, point, trainCalls }) => {
    const dirs = await testDirs();
    closers.push(dirs.cleanup);
    const queue = testQueue();
    const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
    closers.push(() => engine.close());
    engine.registerPlugin("counting", new CountingTagger());
    engine.registerPlugin("external", new ExternalTagger());
    const instance = plugin === "counting" ? "tagger" : "ext";
    await engine.createInstance({
      id: instance,
      plugin,
      config:
        plugin === "counting"
          ? { countDir: dirs.countDir }
          : { countDir: dirs.countDir, jobsDir: dirs.jobsDir },
    });

    const first = startChildWorker({
      ...queue,
      storeUrl: dirs.storeUrl,
      dataDir: dirs.workerDir(1),
      killAt: point,
    });
    closers.push(first.kill);
    await first.waitFor((line) => line.ready === true);
    const run = await engine.startTraining(instance, {
      trainingEpochs: 2,
      trainingParams: { keywords: ["kilo"], epochMs: 20, jobMs: 800, retryAfterMs: 50 },
    });
    expect(await first.exited).toBe("SIGKILL");
    expect(first.lines.some((line) => line.point === point)).toBe(true);
    expect((await engine.getTask(run.taskId))?.state).not.toBe("succeeded");

    const rescuer = await createBullmqWorker({
      ...queue,
      store: await dirs.store(),
      plugins: { counting: new CountingTagger(), external: new ExternalTagger() },
      dataDir: dirs.workerDir(2),
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      logger: { warn: () => {}, error: () => {} },
    });
    closers.push(() => rescuer.close());
    const task = await run.done;
    expect(task.state).toBe("succeeded");
    expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(trainCalls);
    if (plugin === "external") expect(await countJobs(dirs.jobsDir)).toBe(1);
    expect(await refVersions(dirs.storeDir, instance, task.save.handle)).toBe(1);
    expect(await refVersions(dirs.storeDir, instance, "default")).toBe(1);
    expect(task.checkpoint?.handle).toBe(task.save.handle);
    expect(await engine.queue.getJobState(run.taskId)).toBe("completed");
  });

  // Cancelled while the job's worker is dead (the pub/sub message reaches no one): the
  // durable flag makes the next worker record it cancelled without a new train call, and
  // the external job the dead worker started is stopped by its task id or recorded id.
  it.each([
    { plugin: "counting" as const, point: "before-train" },
    { plugin: "external" as const, point: "after-train" },
    { plugin: "external" as const, point: "before-status-check" },
  ])(
    "cancelled while its worker is dead ($plugin, killed at $point)",
    async ({ plugin, point }) => {
      const dirs = await testDirs();
      closers.push(dirs.cleanup);
      const queue = testQueue();
      const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
      closers.push(() => engine.close());
      engine.registerPlugin(
        plugin,
        plugin === "counting" ? new CountingTagger() : new ExternalTagger(),
      );
      const config = {
        countDir: dirs.countDir,
        ...(plugin === "external" ? { jobsDir: dirs.jobsDir } : {}),
      };
      await engine.createInstance({ id: "i", plugin, config });
      const first = startChildWorker({
        ...queue,
        storeUrl: dirs.storeUrl,
        dataDir: dirs.workerDir(1),
        killAt: point,
      });
      closers.push(first.kill);
      await first.waitFor((line) => line.ready === true);
      const run = await engine.startTraining("i", {
        trainingParams: { keywords: ["q"], epochMs: 20, jobMs: 60_000, retryAfterMs: 50 },
      });
      expect(await first.exited).toBe("SIGKILL");
      const cancelling = engine.cancel(run.taskId);
      const rescuer = await createBullmqWorker({
        ...queue,
        store: await dirs.store(),
        plugins: { counting: new CountingTagger(), external: new ExternalTagger() },
        dataDir: dirs.workerDir(2),
        lockDurationMs: 2_000,
        stalledIntervalMs: 1_000,
        logger: { warn: () => {}, error: () => {} },
      });
      closers.push(() => rescuer.close());
      expect((await cancelling).state).toBe("cancelled");
      expect((await run.done).state).toBe("cancelled");
      const calls = (await readCounts(dirs.countDir, "start")).get(run.taskId) ?? 0;
      expect(calls).toBe(point === "before-train" ? 0 : 1);
      if (plugin === "external")
        expect(await jobStateOf(dirs.jobsDir, run.taskId)).toBe("cancelled");
      expect(await refVersions(dirs.storeDir, "i", "default")).toBe(0);
    },
  );
});
