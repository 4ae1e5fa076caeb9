// Cache benchmarks (issue 5's acceptance), called by bench/run.mjs:
//   - memory hit: latency of `Model.loadRemote` served from the in-memory LRU (p50/p99, µs);
//   - disk hit in a fresh process: `loadRemote` of checkpoint A (1 GiB) by a new process whose
//     disk cache already holds it (the model's `loadFromFolder` only records the folder, and is
//     timed separately); the same for C;
//   - 16 concurrent `loadRemote` of an uncached version: downloads, loads, distinct instances.
//
// The fresh processes run this same file: `node cache-bench.mjs child <mode> <json args>`.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createModelCache } from "@trainable/cache";
import { TrainableModel } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";

const WORKSPACE = "bench";
const self = fileURLToPath(import.meta.url);

/** A model whose `loadFromFolder` reads nothing: it records the folder (and its own time). */
export class BenchModel extends TrainableModel {
  static loadCalls = 0;
  static loadSeconds = 0;
  dir = "";

  async saveToFolder() {
    throw new Error("BenchModel checkpoints are saved with store.save({ folder })");
  }

  async loadFromFolder(dir) {
    const t0 = process.hrtime.bigint();
    BenchModel.loadCalls++;
    this.dir = dir;
    BenchModel.loadSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
  }

  async train() {
    return { status: { state: "succeeded" } };
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs this file as a fresh process; returns the JSON it prints last. */
function child(mode, args) {
  const out = execFileSync(process.execPath, [self, "child", mode, JSON.stringify(args)], {
    encoding: "utf8",
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 << 20,
  });
  const lines = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  return JSON.parse(lines.at(-1));
}

async function memoryHit({ store, diskDir, pluginInstanceId, n }) {
  const cache = createModelCache({ store, diskDir }); // default revalidateMs
  try {
    const load = () => BenchModel.loadRemote({ store, cache, pluginInstanceId });
    const first = await load();
    // Warm-up (JIT), untimed.
    for (let i = 0; i < 2000; i++) await load();
    const samples = new Float64Array(n);
    let same = true;
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const model = await load();
      samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      if (model !== first) same = false;
    }
    if (!same) throw new Error("memory hit returned another instance");
    samples.sort();
    const stats = cache.stats();
    return {
      n,
      p50us: percentile(samples, 50),
      p99us: percentile(samples, 99),
      meanus: samples.reduce((s, v) => s + v, 0) / n,
      revalidations: stats.revalidations,
      loads: stats.loads,
    };
  } finally {
    await cache.close();
  }
}

async function concurrent({ store, diskDir, pluginInstanceId }) {
  const cache = createModelCache({ store, diskDir });
  try {
    BenchModel.loadCalls = 0;
    const models = await Promise.all(
      Array.from({ length: 16 }, () => BenchModel.loadRemote({ store, cache, pluginInstanceId })),
    );
    const stats = cache.stats();
    return {
      downloads: stats.downloads,
      loads: BenchModel.loadCalls,
      distinctInstances: new Set(models).size,
      callers: models.length,
    };
  } finally {
    await cache.close();
  }
}

/**
 * @param {{ datasetA: string, datasetC: string, work: string, log?: (m: string) => void }} options
 */
export async function runCacheBench({ datasetA, datasetC, work, log = () => {} }) {
  const root = join(work, "cache-bench");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const storeUrl = `file://${join(root, "store")}`;
  const store = await createCheckpointStore({ url: storeUrl, workspace: WORKSPACE });
  try {
    log("cache: saving A and C to a file: store");
    for (const [pluginInstanceId, folder] of [
      ["bench-a", datasetA],
      ["bench-c", datasetC],
      ["bench-conc", datasetC],
    ]) {
      await store.save({ pluginInstanceId, handle: "v1", folder, setAsDefault: true });
    }

    log("cache: memory hits");
    const memory = await memoryHit({
      store,
      diskDir: join(root, "disk-memory"),
      pluginInstanceId: "bench-c",
      n: 50_000,
    });
    log(`cache: memory hit p50 ${memory.p50us.toFixed(1)} µs, p99 ${memory.p99us.toFixed(1)} µs`);

    const diskDir = join(root, "disk");
    log("cache: warming the disk cache in a child process (A and C)");
    const warm = child("warm", { storeUrl, diskDir, ids: ["bench-a", "bench-c"] });
    log(`cache: warm-up: ${warm.downloads} downloads in ${warm.seconds.toFixed(3)} s`);
    const hits = (id, runs) => {
      const samples = [];
      for (let i = 0; i < runs; i++) samples.push(child("hit", { storeUrl, diskDir, id }));
      for (const s of samples) {
        if (s.downloads !== 0 || s.diskHits !== 1) {
          throw new Error(`cache: the disk hit of ${id} was not one: ${JSON.stringify(s)}`);
        }
      }
      const mid = samples.find((s) => s.seconds === median(samples.map((x) => x.seconds)));
      log(
        `cache: disk hit ${id} in a fresh process: ${samples.map((s) => s.seconds.toFixed(3)).join(", ")} s (loadFromFolder ${mid.loadFromFolderSeconds.toFixed(6)} s, ${mid.verifiedBytes} bytes hashed)`,
      );
      return {
        seconds: mid.seconds,
        loadFromFolderSeconds: mid.loadFromFolderSeconds,
        verifiedBytes: mid.verifiedBytes,
        processSeconds: mid.processSeconds,
        samples: samples.map((s) => s.seconds),
      };
    };
    const diskHitA = hits("bench-a", 3);
    const diskHitC = hits("bench-c", 3);

    log("cache: 16 concurrent loads of an uncached version");
    const conc = await concurrent({
      store,
      diskDir: join(root, "disk-concurrent"),
      pluginInstanceId: "bench-conc",
    });
    log(
      `cache: ${conc.downloads} download(s), ${conc.loads} load(s), ${conc.distinctInstances} instance(s)`,
    );
    return { memoryHit: memory, diskHitA, diskHitC, concurrent: conc };
  } finally {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- child processes --------------------------------------------------------------------------
async function childMain(mode, args) {
  const started = process.hrtime.bigint();
  const store = await createCheckpointStore({ url: args.storeUrl, workspace: WORKSPACE });
  const cache = createModelCache({ store, diskDir: args.diskDir });
  try {
    if (mode === "warm") {
      const t0 = process.hrtime.bigint();
      for (const id of args.ids)
        await BenchModel.loadRemote({ store, cache, pluginInstanceId: id });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return { seconds, downloads: cache.stats().downloads };
    }
    if (mode === "hit") {
      const t0 = process.hrtime.bigint();
      const model = await BenchModel.loadRemote({ store, cache, pluginInstanceId: args.id });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (!model.dir) throw new Error("the model was not loaded from a folder");
      const stats = cache.stats();
      return {
        seconds,
        loadFromFolderSeconds: BenchModel.loadSeconds,
        processSeconds: Number(process.hrtime.bigint() - started) / 1e9,
        downloads: stats.downloads,
        diskHits: stats.diskHits,
        verifiedBytes: stats.verifiedBytes,
      };
    }
    throw new Error(`unknown mode ${mode}`);
  } finally {
    await cache.close();
    await store.close();
  }
}

if (process.argv[1] === self && process.argv[2] === "child") {
  const result = await childMain(process.argv[3], JSON.parse(process.argv[4]));
  console.log(JSON.stringify(result));
}
