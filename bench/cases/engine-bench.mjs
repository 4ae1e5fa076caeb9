// Engine benchmark (issue 14), called by bench/run.mjs: the per-job overhead of the distributed
// engine (BullMQ on Redis) against the local engine, on trainings that do nothing but save a
// 10 KiB model, so what is measured is the engines' own work per training (records, events,
// the store's save, the queue's round trips).
//
//   - local engine, one at a time (the baseline): each training awaited before the next;
//   - local engine, all started at once;
//   - BullMQ engine, all enqueued at once, drained by 1 worker process, then by 3 (each with
//     concurrency 1), against our own redis-server (scripts/redis/start-redis.sh, AOF on, on a
//     port of its own, started here and stopped after).
//
// Every case trains TRAININGS times into a fresh `file:` store; per-job time is wall time /
// trainings. The worker processes run this same file (`node engine-bench.mjs worker <json>`).
//
// Env: BENCH_ENGINE_TRAININGS (default 200), BENCH_ENGINE_REDIS_PORT (default 6393).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TrainableModel } from "@trainable/core";
import { createLocalEngine, TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { z } from "zod";

const self = fileURLToPath(import.meta.url);
const SCRIPTS = join(import.meta.dirname, "..", "..", "scripts", "redis");
const MODEL_BYTES = 10 * 1024;
const WORKSPACE = "bench";

class TenKibModel extends TrainableModel {
  async saveToFolder(dir) {
    // 10 KiB that differ per training, so every save stores a new checkpoint.
    const bytes = Buffer.alloc(MODEL_BYTES, this.seed ?? "x");
    await writeFile(join(dir, "weights.bin"), bytes);
  }
  async loadFromFolder(dir) {
    this.weights = await readFile(join(dir, "weights.bin"));
  }
  async train(request) {
    this.seed = String(request.data?.trainingParams?.seed ?? "x");
    return { data: { trainingResults: { bytes: MODEL_BYTES } }, status: { state: "succeeded" } };
  }
}

class TenKibTagger extends TrainableTaggerPluginService {
  configSchema = z.object({});
  modelClass = TenKibModel;
  async runWithModel(request) {
    return request.data;
  }
}

const store = (dir) =>
  createCheckpointStore({ url: pathToFileURL(dir).href, workspace: WORKSPACE });

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, result };
}

const input = (i) => ({ trainingParams: { seed: i } });

function check(tasks, what) {
  const bad = tasks.filter((t) => t.state !== "succeeded");
  if (bad.length > 0) {
    throw new Error(
      `[bench] ${what}: ${bad.length} training(s) did not succeed: ${bad[0].error?.message}`,
    );
  }
}

async function localCase(work, trainings, sequential) {
  const dir = join(work, `local-${sequential ? "seq" : "par"}`);
  const engine = await createLocalEngine({
    store: await store(join(dir, "store")),
    cache: false,
    dataDir: join(dir, "data"),
  });
  engine.registerPlugin("ten", new TenKibTagger());
  await engine.createInstance({ id: "ten", plugin: "ten", config: {} });
  try {
    const { seconds, result } = await timed(async () => {
      if (!sequential) {
        return Promise.all(
          Array.from({ length: trainings }, (_, i) => engine.train("ten", input(i))),
        );
      }
      const tasks = [];
      for (let i = 0; i < trainings; i++) tasks.push(await engine.train("ten", input(i)));
      return tasks;
    });
    check(result, "local engine");
    return { seconds, perJobMs: (seconds * 1000) / trainings };
  } finally {
    await engine.close();
  }
}

function startWorker(config) {
  const child = spawn(process.execPath, [self, "worker", JSON.stringify(config)], {
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line === "ready") resolve();
    });
    child.on("exit", (code) =>
      reject(new Error(`[bench] a worker exited (${code}) before it was ready`)),
    );
  });
  return { child, ready };
}

async function bullmqCase(work, trainings, workers, connection) {
  const { createBullmqEngine } = await import("@trainable/engine-bullmq");
  const dir = join(work, `bullmq-${workers}`);
  const queue = { connection, prefix: "bench", queueName: `w${workers}` };
  const storeDir = join(dir, "store");
  const engine = await createBullmqEngine({ ...queue, store: await store(storeDir) });
  engine.registerPlugin("ten", new TenKibTagger());
  await engine.createInstance({ id: "ten", plugin: "ten", config: {} });
  const children = Array.from({ length: workers }, (_, n) =>
    startWorker({ ...queue, storeDir, dataDir: join(dir, `worker-${n}`) }),
  );
  try {
    await Promise.all(children.map((c) => c.ready));
    const { seconds, result } = await timed(async () => {
      const runs = await Promise.all(
        Array.from({ length: trainings }, (_, i) => engine.startTraining("ten", input(i))),
      );
      return Promise.all(runs.map((r) => r.done));
    });
    check(result, `BullMQ engine, ${workers} worker(s)`);
    return { seconds, perJobMs: (seconds * 1000) / trainings };
  } finally {
    for (const c of children) c.child.kill("SIGTERM");
    await engine.close();
  }
}

async function worker(config) {
  const { createBullmqWorker } = await import("@trainable/engine-bullmq");
  const w = await createBullmqWorker({
    connection: config.connection,
    prefix: config.prefix,
    queueName: config.queueName,
    store: await store(config.storeDir),
    cache: false,
    plugins: { ten: new TenKibTagger() },
    dataDir: config.dataDir,
    concurrency: 1,
    logger: { warn: () => {}, error: (m, e) => console.error(m, e) },
  });
  process.on("SIGTERM", () => {
    w.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.stdout.write("ready\n");
}

/** Runs the engine cases; returns their per-job times and the ratios against the baseline. */
export async function runEngineBench({ work, log }) {
  const trainings = Number(process.env.BENCH_ENGINE_TRAININGS || 200);
  const port = Number(process.env.BENCH_ENGINE_REDIS_PORT || 6393);
  const root = join(work, "engine");
  mkdirSync(root, { recursive: true });
  const redisEnv = { ...process.env, REDIS_DIR: join(root, "redis") };
  const out = execFileSync("bash", [join(SCRIPTS, "start-redis.sh"), String(port)], {
    env: { ...redisEnv, FRESH: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const connection = /REDIS_URL=(\S+)/.exec(out)?.[1];
  if (!connection) throw new Error("[bench] start-redis.sh printed no REDIS_URL");
  try {
    log(`engines: ${trainings} trainings of a 10 KiB model per case`);
    const localSequential = await localCase(root, trainings, true);
    log(`  local engine, one at a time: ${localSequential.perJobMs.toFixed(2)} ms/training`);
    const localConcurrent = await localCase(root, trainings, false);
    log(`  local engine, all at once: ${localConcurrent.perJobMs.toFixed(2)} ms/training`);
    const bullmq1 = await bullmqCase(root, trainings, 1, connection);
    log(`  BullMQ, 1 worker: ${bullmq1.perJobMs.toFixed(2)} ms/training`);
    const bullmq3 = await bullmqCase(root, trainings, 3, connection);
    log(`  BullMQ, 3 workers: ${bullmq3.perJobMs.toFixed(2)} ms/training`);
    return {
      trainings,
      modelBytes: MODEL_BYTES,
      localSequential,
      localConcurrent,
      bullmq1,
      bullmq3,
    };
  } finally {
    execFileSync("bash", [join(SCRIPTS, "stop-redis.sh"), String(port)], {
      env: redisEnv,
      stdio: ["ignore", "ignore", "inherit"],
    });
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "worker") {
  await worker(JSON.parse(process.argv[3]));
} else if (process.argv[1] === self) {
  // Alone: `node bench/cases/engine-bench.mjs` (after `pnpm build`), printing the figures.
  const work = join(import.meta.dirname, "..", ".data", "engine-alone");
  const result = await runEngineBench({ work, log: (m) => console.error(m) });
  console.log(JSON.stringify(result, null, 2));
}
