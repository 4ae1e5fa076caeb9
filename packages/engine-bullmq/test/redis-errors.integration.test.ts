import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { countJobs, ExternalTagger, jobStateOf, readCounts } from "./__fixtures__/plugins.mjs";
import { aclUser, testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An engine with an external-job instance and a worker for it (connected as `connection`). */
async function setup(connection?: string, recordRetryMs?: number) {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
  closers.push(() => engine.close());
  engine.registerPlugin("external", new ExternalTagger());
  await engine.createInstance({
    id: "ext",
    plugin: "external",
    config: { countDir: dirs.countDir, jobsDir: dirs.jobsDir },
  });
  const warnings: string[] = [];
  const worker = await createBullmqWorker({
    ...queue,
    connection: connection ?? queue.connection,
    store: await dirs.store(),
    plugins: { external: new ExternalTagger() },
    dataDir: dirs.workerDir(1),
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    ...(recordRetryMs !== undefined ? { recordRetryMs } : {}),
    logger: {
      warn: (m, e) => warnings.push(`${m} ${e ?? ""}`),
      error: (m, e) => warnings.push(`${m} ${e ?? ""}`),
    },
  });
  closers.push(() => worker.close());
  const polling = async () => {
    const run = await engine.startTraining("ext", {
      trainingParams: { keywords: ["redis"], jobMs: 3_000, retryAfterMs: 100 },
    });
    await expect
      .poll(async () => (await engine.getTask(run.taskId))?.phase, { timeout: 10_000 })
      .toBe("polling");
    return run;
  };
  return { dirs, engine, worker, warnings, polling };
}

/** Makes the shared server refuse writes (OOM) for `ms`, as `CONFIG SET maxmemory 1` does. */
async function outOfMemoryFor(ms: number) {
  const admin = new Redis(inject("redis").url, { maxRetriesPerRequest: null });
  const [, before] = (await admin.config("GET", "maxmemory")) as [string, string];
  try {
    await admin.config("SET", "maxmemory", "1");
    await sleep(ms);
  } finally {
    await admin.config("SET", "maxmemory", before);
    await admin.quit();
  }
}

/** Resumed or ridden out, the training ends once: succeeded, its one external job never cancelled. */
async function expectSucceededOnce(
  { dirs, engine }: Awaited<ReturnType<typeof setup>>,
  run: { taskId: string; done: Promise<{ state: string }> },
) {
  expect((await run.done).state).toBe("succeeded");
  expect(await jobStateOf(dirs.jobsDir, run.taskId)).toBe("succeeded");
  expect(await countJobs(dirs.jobsDir)).toBe(1);
  expect((await readCounts(dirs.countDir, "start")).get(run.taskId)).toBe(1);
  return engine.queue.getJob(run.taskId);
}

describe("Redis write errors on the worker (OOM, READONLY, MISCONF, refused writes)", () => {
  it("a short error (maxmemory 1 for 500 ms) neither fails the training nor cancels its external job", async () => {
    const context = await setup();
    const run = await context.polling();
    await outOfMemoryFor(500);
    // The record was written once Redis took writes again: the external job ran on.
    await expectSucceededOnce(context, run);
    expect(context.warnings.some((w) => /Redis refused the record.*OOM/.test(w))).toBe(true);
  });

  it("an error outlasting the record retries: the worker stops without effect and hands the job back", async () => {
    const context = await setup(undefined, 100);
    const run = await context.polling();
    await outOfMemoryFor(500);
    const job = await expectSucceededOnce(context, run);
    expect(
      context.warnings.some((w) => w.includes(`gave up recording training ${run.taskId}`)),
    ).toBe(true);
    // Taken again (handed back, or recovered once its lock expired), resumed from its record.
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
  });

  it("every write of the worker refused (ACL) past its lock: it stops without effect and the job is resumed", async () => {
    const user = await aclUser();
    closers.push(() => user.cleanup());
    const context = await setup(user.url);
    const { dirs, engine, worker, warnings } = context;
    const run = await context.polling();
    // The worker's writes are refused (the other clients', the engine's, are not), its lock
    // renewals too: the lock expires while it retries its record.
    await user.restrict("-@write");
    try {
      await expect
        .poll(() => worker.activeTasks().includes(run.taskId), { timeout: 20_000 })
        .toBe(false);
      expect(
        warnings.some((w) => w.includes(`Redis refused the record of training ${run.taskId}`)),
      ).toBe(true);
      // Stopped like a lost lock: the record is untouched, no final record, no cancel.
      expect(await engine.getTask(run.taskId)).toMatchObject({
        state: "running",
        phase: "polling",
      });
      expect(await jobStateOf(dirs.jobsDir, run.taskId)).not.toBe("cancelled");
    } finally {
      await user.restrict("+@all");
    }
    // Redis takes writes again: the job is recovered (stalled) and resumed from its record.
    const job = await expectSucceededOnce(context, run);
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
  });
});
