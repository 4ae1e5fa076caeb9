/**
 * The distributed engine (issue 14): worker processes on BullMQ/Redis drive a mix of
 * in-process and external-job trainings while a random worker is SIGKILLed again and again
 * (and replaced) and Redis itself is restarted (SIGTERM, same dir: the AOF brings every job
 * back). A cancel from a fourth process stops its training on the worker running it.
 *
 * Exactly once is counted where it lands, not reported by the engine: train starts and saves
 * by the plugins (files in a count dir), external jobs at the fake service (one file per job),
 * and saves and `default` moves as ref versions written in the `file:` store.
 *
 * The workers and plugins are the engine package's own test fixtures
 * (`packages/engine-bullmq/test/__fixtures__`, on its built dist). The trial runs its own
 * redis-server (scripts/redis/start-redis.sh on a port of its own, in a temp dir), since it
 * restarts it.
 */
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type BullmqEngine, createBullmqEngine } from "@trainable/engine-bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CountingTagger,
  countJobs,
  ExternalTagger,
  readCounts,
} from "../../../packages/engine-bullmq/test/__fixtures__/plugins.mjs";
import {
  type ChildWorker,
  refVersions,
  startChildWorker,
  testDirs,
} from "../../../packages/engine-bullmq/test/helpers.js";
import { recordCase, trials } from "./report.js";
import { rng, suiteSeed } from "./storage-faults/helpers.js";

const SEED = suiteSeed("distributed");
const WORKERS = 3;
const TRAININGS = trials(12, 30);
const KILLS = trials(4, 10);
const REDIS_RESTARTS = 1;
const CANCEL_WITHIN_MS = 2_000;
const PORT = Number(process.env.TRAINABLE_TEST_REDIS_TRIAL_PORT || 6391);
const SCRIPTS = join(import.meta.dirname, "..", "..", "..", "scripts", "redis");
const FIXTURES = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "packages",
  "engine-bullmq",
  "test",
  "__fixtures__",
);
const run = promisify(execFile);

describe("distributed engine: worker kills and a Redis restart", () => {
  let dirs: Awaited<ReturnType<typeof testDirs>>;
  let redisDir: string;
  const env = () => ({ ...process.env, REDIS_DIR: redisDir, FRESH: "0" });
  const redis = (script: "start" | "stop") =>
    run("bash", [join(SCRIPTS, `${script}-redis.sh`), String(PORT)], { env: env() });

  let engine: BullmqEngine;
  const workers: ChildWorker[] = [];
  let workerCount = 0;
  const queue = { connection: `redis://127.0.0.1:${PORT}/0`, prefix: "trial", queueName: "t" };
  const startWorker = () => {
    const worker = startChildWorker({
      ...queue,
      storeUrl: dirs.storeUrl,
      dataDir: dirs.workerDir(++workerCount),
      concurrency: 2,
    });
    workers.push(worker);
    return worker;
  };

  beforeAll(async () => {
    dirs = await testDirs();
    redisDir = join(dirs.root, "redis");
    await run("bash", [join(SCRIPTS, "start-redis.sh"), String(PORT)], {
      env: { ...env(), FRESH: "1" },
    });
    engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
    engine.registerPlugin("counting", new CountingTagger());
    engine.registerPlugin("external", new ExternalTagger());
    const counts = { countDir: dirs.countDir };
    await engine.createInstance({ id: "tagger", plugin: "counting", config: counts });
    await engine.createInstance({
      id: "ext",
      plugin: "external",
      config: { ...counts, jobsDir: dirs.jobsDir },
    });
    await Promise.all(
      Array.from({ length: WORKERS }, () => startWorker().waitFor((l) => l.ready === true)),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await engine?.close();
    await redis("stop");
    await dirs.cleanup();
  });

  it("a cancel from another process stops a running training on its worker", async () => {
    const long = await engine.startTraining("tagger", {
      trainingEpochs: 300,
      trainingParams: { keywords: ["long"], epochMs: 100 },
    });
    for await (const event of engine.watch(long.taskId)) if (event.type === "update") break;
    const cancelled = await new Promise<{ ms: number; state: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(FIXTURES, "cancel-child.mjs")], {
        env: {
          ...process.env,
          CANCEL: JSON.stringify({ ...queue, storeUrl: dirs.storeUrl, taskId: long.taskId }),
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
      });
      child.on("error", reject);
      child.on("exit", () => {
        try {
          resolve(JSON.parse(out));
        } catch (error) {
          reject(error);
        }
      });
    });
    const final = await long.done;
    const passed =
      cancelled.state === "cancelled" &&
      final.state === "cancelled" &&
      cancelled.ms < CANCEL_WITHIN_MS;
    recordCase({
      id: "distributed.remote-cancel",
      backend: "redis",
      method: `a 30 s training running on one of ${WORKERS} worker processes; a fourth process (its own engine on the same queue) calls cancel(taskId) and times how long until the cancelled task is recorded`,
      trials: 1,
      outcome: `cancel() answered "${cancelled.state}" in ${cancelled.ms} ms (bound ${CANCEL_WITHIN_MS} ms); the engine that started it read "${final.state}"`,
      passed,
    });
    expect(cancelled.state).toBe("cancelled");
    expect(final.state).toBe("cancelled");
    expect(cancelled.ms).toBeLessThan(CANCEL_WITHIN_MS);
  }, 120_000);

  it(`${TRAININGS} trainings, ${WORKERS} workers, ${KILLS} SIGKILLs, ${REDIS_RESTARTS} Redis restart (seed ${SEED})`, async () => {
    const random = rng(SEED);
    const runs = await Promise.all(
      Array.from({ length: TRAININGS }, (_, i) =>
        engine.startTraining(i % 2 === 0 ? "tagger" : "ext", {
          trainingEpochs: 20,
          trainingParams: { keywords: [`k${i}`], epochMs: 100, jobMs: 2_500, retryAfterMs: 100 },
        }),
      ),
    );
    const restartAt = Math.floor(KILLS / 2);
    for (let kill = 0; kill < KILLS; kill++) {
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.floor(random() * 800)));
      const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
      await live[Math.floor(random() * live.length)]?.kill();
      await startWorker().waitFor((l) => l.ready === true);
      if (kill === restartAt) {
        await redis("stop");
        await redis("start");
      }
    }
    const tasks = await Promise.all(runs.map((r) => r.done));

    // Counted where the effects land.
    const problems: string[] = [];
    const starts = await readCounts(dirs.countDir, "start");
    let handleVersions = 0;
    for (const task of tasks) {
      if (task.state !== "succeeded") {
        problems.push(`${task.taskId} ended ${task.state}: ${task.error?.message ?? ""}`);
        continue;
      }
      const versions = await refVersions(dirs.storeDir, task.instanceId, task.save.handle);
      handleVersions += versions;
      if (versions !== 1) problems.push(`${task.taskId}: ${versions} saves to its handle`);
    }
    const external = tasks.filter((t) => t.instanceId === "ext").length;
    const jobs = await countJobs(dirs.jobsDir);
    if (jobs !== external)
      problems.push(`${jobs} external jobs for ${external} external trainings`);
    const moves =
      (await refVersions(dirs.storeDir, "ext", "default")) +
      (await refVersions(dirs.storeDir, "tagger", "default"));
    if (moves !== tasks.length)
      problems.push(`${moves} default moves for ${tasks.length} trainings`);
    const jobsOf = await Promise.all(tasks.map((t) => engine.queue.getJob(t.taskId)));
    const recovered = jobsOf.filter((job) => (job?.attemptsStarted ?? 0) > 1).length;
    if (recovered === 0) problems.push("no training was recovered from a killed worker");
    const trainStarts = tasks.reduce((n, t) => n + (starts.get(t.taskId) ?? 0), 0);
    const succeeded = tasks.filter((t) => t.state === "succeeded").length;

    recordCase({
      id: "distributed.trial",
      backend: "redis",
      method: `${TRAININGS} trainings (half in-process, half driving an external job) on ${WORKERS} worker processes (concurrency 2, lock 2 s) sharing a file: store; every 0.4–1.2 s a random worker is SIGKILLed and a new one started (${KILLS} kills, seed ${SEED}); Redis restarted once mid-run (SIGTERM, AOF, same dir); train starts and saves counted by the plugins, external jobs at the service, saves and default moves as ref versions in the store`,
      trials: TRAININGS,
      outcome:
        `${succeeded}/${TRAININGS} succeeded, ${recovered} of them recovered by another worker after a kill (${workerCount} worker processes in all, ${trainStarts} train calls); ${handleVersions} saves in the store (1 per training), ${jobs} external jobs for ${external} external trainings, ${moves} default moves` +
        (problems.length ? `; FAILED: ${problems.join("; ")}` : ""),
      passed: problems.length === 0,
    });
    expect(problems).toEqual([]);
  }, 600_000);
});
