/**
 * The issue-14 trial, small in CI (full counts with TRAINABLE_RELIABILITY_FULL=1): worker
 * processes drive a mix of in-process and external-job trainings while a random worker is
 * SIGKILLed again and again (and replaced) and Redis itself is restarted once (SIGTERM, same
 * dir: the AOF brings every job back). A cancel from another process stops its training
 * within 2 s. In the end every training succeeded exactly once: one external job each, one
 * save each, `default` moved once per training — counted at the service and the store.
 *
 * It runs its own redis-server (scripts/redis/start-redis.sh on a port of its own, in a temp
 * dir), since it restarts it.
 */
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BullmqEngine, createBullmqEngine } from "../src/index.js";
import { CountingTagger, countJobs, ExternalTagger, readCounts } from "./__fixtures__/plugins.mjs";
import { type ChildWorker, refVersions, startChildWorker, testDirs } from "./helpers.js";

const FULL = process.env.TRAINABLE_RELIABILITY_FULL === "1";
const WORKERS = 3;
const TRAININGS = FULL ? 30 : 12;
const KILLS = FULL ? 10 : 4;
const PORT = Number(process.env.TRAINABLE_TEST_REDIS_TRIAL_PORT || 6391);
const SCRIPTS = fileURLToPath(new URL("../../../scripts/redis/", import.meta.url));
const CANCEL_CHILD = fileURLToPath(new URL("./__fixtures__/cancel-child.mjs", import.meta.url));
const run = promisify(execFile);

describe("reliability trial: random worker kills and a Redis restart", () => {
  let dirs: Awaited<ReturnType<typeof testDirs>>;
  let redisDir: string;
  const env = () => ({ ...process.env, REDIS_DIR: redisDir, FRESH: "0" });
  beforeAll(async () => {
    dirs = await testDirs();
    redisDir = join(dirs.root, "redis");
    await run("bash", [join(SCRIPTS, "start-redis.sh"), String(PORT)], {
      env: { ...env(), FRESH: "1" },
    });
  });
  afterAll(async () => {
    await run("bash", [join(SCRIPTS, "stop-redis.sh"), String(PORT)], { env: env() });
    await dirs.cleanup();
  });

  it(`${TRAININGS} trainings, ${WORKERS} workers, ${KILLS} SIGKILLs, one Redis restart, one remote cancel`, async () => {
    const queue = { connection: `redis://127.0.0.1:${PORT}/0`, prefix: "trial", queueName: "t" };
    const engine: BullmqEngine = await createBullmqEngine({ ...queue, store: await dirs.store() });
    const workers: ChildWorker[] = [];
    let workerCount = 0;
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
    try {
      engine.registerPlugin("counting", new CountingTagger());
      engine.registerPlugin("external", new ExternalTagger());
      await engine.createInstance({
        id: "tagger",
        plugin: "counting",
        config: { countDir: dirs.countDir },
      });
      await engine.createInstance({
        id: "ext",
        plugin: "external",
        config: { countDir: dirs.countDir, jobsDir: dirs.jobsDir },
      });
      await Promise.all(
        Array.from({ length: WORKERS }, () => startWorker().waitFor((l) => l.ready === true)),
      );

      // 1. A cancel from a fourth process reaches the worker running the job.
      const long = await engine.startTraining("tagger", {
        trainingEpochs: 300,
        trainingParams: { keywords: ["long"], epochMs: 100 },
      });
      for await (const event of engine.watch(long.taskId)) if (event.type === "update") break;
      const cancelled = await new Promise<{ ms: number; state: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [CANCEL_CHILD], {
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
        child.on("exit", () => {
          try {
            resolve(JSON.parse(out));
          } catch (error) {
            reject(error);
          }
        });
      });
      expect(cancelled.state).toBe("cancelled");
      expect(cancelled.ms).toBeLessThan(2_000);

      // 2. The trainings, mixed, while workers are killed and Redis restarts.
      const runs = await Promise.all(
        Array.from({ length: TRAININGS }, (_, i) =>
          engine.startTraining(i % 2 === 0 ? "tagger" : "ext", {
            trainingEpochs: 20,
            trainingParams: { keywords: [`k${i}`], epochMs: 100, jobMs: 2_500, retryAfterMs: 100 },
          }),
        ),
      );
      for (let kill = 0; kill < KILLS; kill++) {
        await new Promise((resolve) => setTimeout(resolve, 800));
        const live = workers.filter(
          (w) => w.child.exitCode === null && w.child.signalCode === null,
        );
        const victim = live[Math.floor(Math.random() * live.length)];
        await victim?.kill();
        await startWorker().waitFor((l) => l.ready === true);
        if (kill === Math.floor(KILLS / 2)) {
          await run("bash", [join(SCRIPTS, "stop-redis.sh"), String(PORT)], { env: env() });
          await run("bash", [join(SCRIPTS, "start-redis.sh"), String(PORT)], { env: env() });
        }
      }
      const tasks = await Promise.all(runs.map((r) => r.done));

      // 3. Exactly once, everywhere.
      expect(tasks.map((t) => t.state)).toEqual(tasks.map(() => "succeeded"));
      const starts = await readCounts(dirs.countDir, "start");
      for (const task of tasks) {
        const instance = task.instanceId;
        expect(await refVersions(dirs.storeDir, instance, task.save.handle)).toBe(1);
        expect(starts.get(task.taskId) ?? 0).toBeGreaterThanOrEqual(1);
      }
      const external = tasks.filter((t) => t.instanceId === "ext").length;
      expect(await countJobs(dirs.jobsDir)).toBe(external);
      expect(await refVersions(dirs.storeDir, "ext", "default")).toBe(external);
      expect(await refVersions(dirs.storeDir, "tagger", "default")).toBe(tasks.length - external);
      // Jobs a worker started more than once: recovered from a killed worker.
      const jobs = await Promise.all(tasks.map((t) => engine.queue.getJob(t.taskId)));
      const recovered = jobs.filter((job) => (job?.attemptsStarted ?? 0) > 1).length;
      expect(recovered).toBeGreaterThan(0);
      process.stderr.write(
        `[trial] ${tasks.length} trainings succeeded once (${recovered} recovered after a kill), ${workerCount} worker processes, ${KILLS} kills, 1 Redis restart; remote cancel in ${cancelled.ms} ms\n`,
      );
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await engine.close();
    }
  }, 300_000);
});
