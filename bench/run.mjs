// `pnpm bench`: the benchmarks, each case next to its baselines measured in the same run.
// Generates the data sets (bench/.data), runs every case several times in fresh processes,
// reports medians with min–max, and writes docs/benchmarks.md and bench/results/latest.json.
// Env: BENCH_RUNS (default 3), BENCH_A_BYTES (default 1 GiB), BENCH_SKIP_S3=1.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { runCacheBench } from "./cases/cache-bench.mjs";
import { runHttpBench } from "./cases/http-bench.mjs";
import { DATA_DIR, datasetA, datasetB, datasetC } from "./datasets.mjs";
import { bash, measure, repeat } from "./measure.mjs";

const root = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const A_BYTES = Number(process.env.BENCH_A_BYTES ?? 1024 ** 3);
const work = join(DATA_DIR, "work");
const started = Date.now();
const log = (m) => console.error(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s] ${m}`);
const results = { machine: {}, cases: [], targets: [] };
const node = process.execPath;
const storeOp = join(import.meta.dirname, "cases", "store-op.mjs");
const s3Raw = join(import.meta.dirname, "cases", "s3-raw.mjs");
const fresh = (name) => {
  const p = join(work, name);
  rmSync(p, { recursive: true, force: true });
  return p;
};

function machine() {
  const tarVersion = execFileSync("tar", ["--version"], { encoding: "utf8" }).split("\n")[0];
  const py = execFileSync("python3", ["--version"], { encoding: "utf8" }).trim();
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    tar: tarVersion,
    python: py,
    date: new Date().toISOString(),
  };
}

function record(group, name, summary, extra = {}) {
  const row = { group, name, ...summary, ...extra };
  delete row.samples;
  results.cases.push(row);
  log(
    `${group} / ${name}: median ${summary.median.toFixed(3)} s (min ${summary.min.toFixed(3)}, max ${summary.max.toFixed(3)}), peak RSS ${summary.maxRssMiB.toFixed(0)} MiB${extra.uploadedBytes !== undefined ? `, uploaded ${extra.uploadedBytes} B` : ""}`,
  );
  return row;
}

function target(name, pass, detail) {
  results.targets.push({ name, pass, detail });
  log(`${pass ? "PASS" : "MISS"} ${name}: ${detail}`);
}

// ---- S3 server -----------------------------------------------------------------------------
function s3Env() {
  if (process.env.BENCH_SKIP_S3 === "1") return undefined;
  if (process.env.TRAINABLE_TEST_S3_ENDPOINT) {
    return {
      S3_ENDPOINT: process.env.TRAINABLE_TEST_S3_ENDPOINT,
      S3_ACCESS_KEY: process.env.TRAINABLE_TEST_S3_ACCESS_KEY,
      S3_SECRET_KEY: process.env.TRAINABLE_TEST_S3_SECRET_KEY,
      S3_REGION: process.env.TRAINABLE_TEST_S3_REGION ?? "us-east-1",
    };
  }
  log("starting the local S3 server (radosgw)");
  const out = execFileSync(
    "bash",
    [join(root, "scripts/s3/start-radosgw.sh"), process.env.TRAINABLE_TEST_S3_PORT ?? "7480"],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      // A sparse 32 GiB store: the 1 GiB cases write several GiB in one run.
      env: { RGW_STORE_BYTES: String(32 * 1024 ** 3), ...process.env },
    },
  );
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => l.split("="))
      .map(([k, ...v]) => [k, v.join("=")]),
  );
}

/** Deletes every object of the (dedicated) bench bucket, so runs never fill the S3 server. */
async function emptyBucket(env, bucket) {
  const { S3Client, ListObjectsV2Command, DeleteObjectsCommand } = await import(
    "@aws-sdk/client-s3"
  );
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
  });
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) break;
    await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
    );
  }
  client.destroy();
}

async function ensureBucket(env, bucket) {
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((e) => {
    if (!/BucketAlready/.test(e.name)) throw e;
  });
  client.destroy();
}

// ---- save / load ------------------------------------------------------------------------------
function storeCases({ label, dir, backend, url, env, s3 }) {
  const out = {};
  const nodeEnv = { ...process.env, ...env, NODE_NO_WARNINGS: "1" };
  // ours: save (fresh handle each run, so the blob is new: a fresh store per run)
  let storeUrl;
  const save = repeat(
    RUNS,
    () => {
      const r = measure(node, [storeOp, "save", storeUrl, "v1", dir], { env: nodeEnv });
      return { ...r, seconds: r.seconds };
    },
    (i) => {
      storeUrl = url(`${label}-${i}-${randomUUID().slice(0, 8)}`);
    },
  );
  out.save = record(`save ${label}`, `trainable ${backend}`, save);
  const load = repeat(RUNS, () =>
    measure(node, [storeOp, "load", storeUrl, "v1", fresh(`load-${label}`)], { env: nodeEnv }),
  );
  out.load = record(`load ${label}`, `trainable ${backend}`, load);
  const resave = measure(node, [storeOp, "save", storeUrl, "v2", dir], { env: nodeEnv });
  out.resave = record(
    `re-save ${label}`,
    `trainable ${backend} (unchanged folder)`,
    repeat(1, () => resave),
    { uploadedBytes: resave.json.uploadedBytes },
  );
  const setdef = measure(node, [storeOp, "setdefault", storeUrl, "v1"], { env: nodeEnv });
  out.setdefault = record(
    `setAsDefault ${label}`,
    `trainable ${backend}`,
    repeat(1, () => setdef),
    { uploadedBytes: 0 },
  );

  if (!s3) {
    // GNU tar + cp baselines (the practical limit on files)
    const tarFile = join(work, `${label}.tar`);
    const storeDir = join(work, `gnu-store-${label}`);
    mkdirSync(storeDir, { recursive: true });
    out.gnuSave = record(
      `save ${label}`,
      "GNU tar -cf + cp",
      repeat(RUNS, () =>
        bash(
          `tar -cf ${tarFile} -C ${dir} . && cp ${tarFile} ${storeDir}/ckpt.tar && sync -f ${storeDir}/ckpt.tar`,
        ),
      ),
    );
    out.gnuLoad = record(
      `load ${label}`,
      "cp + GNU tar -xf",
      repeat(RUNS, () => {
        const t = fresh(`gnu-load-${label}`);
        return bash(
          `mkdir -p ${t} && cp ${storeDir}/ckpt.tar ${t}.tar && tar -xf ${t}.tar -C ${t} && rm ${t}.tar`,
        );
      }),
    );
    // The original's approach: zip via shutil.make_archive + a second full copy for `default`
    const zipBase = join(work, `orig-${label}`);
    out.origSave = record(
      `save ${label}`,
      "original: shutil zip + copy for default",
      repeat(label === "A" ? 1 : RUNS, () =>
        measure("python3", [
          "-c",
          `import shutil,sys; p=shutil.make_archive(sys.argv[1], "zip", root_dir=sys.argv[2]); shutil.copy(p, sys.argv[1] + "-default.zip")`,
          zipBase,
          dir,
        ]),
      ),
    );
    out.origLoad = record(
      `load ${label}`,
      "original: shutil.unpack_archive",
      repeat(RUNS, () =>
        measure("python3", [
          "-c",
          `import shutil,sys; shutil.unpack_archive(sys.argv[1] + ".zip", sys.argv[2])`,
          zipBase,
          fresh(`orig-load-${label}`),
        ]),
      ),
    );
    rmSync(`${zipBase}.zip`, { force: true });
    rmSync(`${zipBase}-default.zip`, { force: true });
    rmSync(tarFile, { force: true });
    rmSync(storeDir, { recursive: true, force: true });
  } else {
    // Raw AWS SDK put/get of the same bytes (the limit on S3)
    const tarFile = join(work, `${label}-raw.tar`);
    execFileSync("tar", ["-cf", tarFile, "-C", dir, "."]);
    const key = `raw/${label}-${randomUUID()}.tar`;
    out.rawPut = record(
      `save ${label}`,
      "raw AWS SDK put (lib-storage)",
      repeat(RUNS, () =>
        measure(node, [s3Raw, "put", env.S3_BUCKET, key, tarFile], { env: nodeEnv }),
      ),
    );
    out.rawGet = record(
      `load ${label}`,
      "raw AWS SDK get",
      repeat(RUNS, () =>
        measure(node, [s3Raw, "get", env.S3_BUCKET, key, join(work, `${label}-raw-get.tar`)], {
          env: nodeEnv,
        }),
      ),
    );
    rmSync(tarFile, { force: true });
    rmSync(join(work, `${label}-raw-get.tar`), { force: true });
  }
  return out;
}

function ratio(base, ours) {
  return base.median / ours.median;
}

// ---- main -------------------------------------------------------------------------------------
async function main() {
  results.machine = machine();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log("generating data sets");
  const sets = { A: datasetA(A_BYTES), B: datasetB(), C: datasetC() };

  const fileRoot = join(work, "file-stores");
  const byBackend = { file: {} };
  for (const [label, dir] of Object.entries(sets)) {
    byBackend.file[label] = storeCases({
      label,
      dir,
      backend: "file:",
      url: (n) => `file://${join(fileRoot, n)}`,
    });
    rmSync(fileRoot, { recursive: true, force: true });
  }

  const s3 = s3Env();
  if (s3) {
    const bucket = "trainable-bench";
    await ensureBucket(s3, bucket);
    const env = {
      ...s3,
      S3_BUCKET: bucket,
      AWS_ACCESS_KEY_ID: s3.S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: s3.S3_SECRET_KEY,
      AWS_REGION: s3.S3_REGION,
    };
    byBackend.s3 = {};
    for (const [label, dir] of Object.entries(sets)) {
      await emptyBucket(s3, bucket);
      byBackend.s3[label] = storeCases({
        label,
        dir,
        backend: "s3:",
        s3: true,
        env,
        url: (n) =>
          `s3://${bucket}/${n}?endpoint=${encodeURIComponent(s3.S3_ENDPOINT)}&region=${s3.S3_REGION}&forcePathStyle=true`,
      });
    }
    await emptyBucket(s3, bucket);
  }

  // targets
  const fA = byBackend.file.A;
  target(
    "save A on file: ≥ 0.8× GNU tar + cp",
    ratio(fA.gnuSave, fA.save) >= 0.8,
    `${ratio(fA.gnuSave, fA.save).toFixed(2)}×`,
  );
  target(
    "load A on file: ≥ 0.8× cp + GNU tar -xf",
    ratio(fA.gnuLoad, fA.load) >= 0.8,
    `${ratio(fA.gnuLoad, fA.load).toFixed(2)}×`,
  );
  target(
    "save A on file: ≥ 10× faster than the original's zip",
    ratio(fA.origSave, fA.save) >= 10,
    `${ratio(fA.origSave, fA.save).toFixed(1)}×`,
  );
  target(
    "load A on file: ≥ 10× faster than the original's unzip",
    ratio(fA.origLoad, fA.load) >= 10,
    `${ratio(fA.origLoad, fA.load).toFixed(1)}×`,
  );
  if (byBackend.s3) {
    const sA = byBackend.s3.A;
    target(
      "save A on S3: ≥ 0.8× raw SDK put",
      ratio(sA.rawPut, sA.save) >= 0.8,
      `${ratio(sA.rawPut, sA.save).toFixed(2)}×`,
    );
    target(
      "load A on S3: ≥ 0.8× raw SDK get",
      ratio(sA.rawGet, sA.load) >= 0.8,
      `${ratio(sA.rawGet, sA.load).toFixed(2)}×`,
    );
  }
  const rssA = Math.max(
    ...Object.values(byBackend).flatMap((b) => [b.A.save.maxRssMiB, b.A.load.maxRssMiB]),
  );
  target(
    "peak RSS < 200 MiB for A (save and load, every backend)",
    rssA < 200,
    `${rssA.toFixed(0)} MiB`,
  );
  const reBytes = Object.values(byBackend).flatMap((b) =>
    Object.values(b).flatMap((c) => [c.resave.uploadedBytes, c.setdefault.uploadedBytes]),
  );
  target(
    "re-save unchanged + setAsDefault upload 0 blob bytes",
    reBytes.every((b) => b === 0),
    `${reBytes.join(", ")} bytes`,
  );

  log("cache benchmarks");
  const cache = await runCacheBench({ datasetA: sets.A, datasetC: sets.C, work, log });
  results.cache = cache;
  target(
    "memory-hit p50 < 50 µs",
    cache.memoryHit.p50us < 50,
    `p50 ${cache.memoryHit.p50us.toFixed(1)} µs, p99 ${cache.memoryHit.p99us.toFixed(1)} µs`,
  );
  target(
    "disk-hit load of A in a fresh process < 1 s + loadFromFolder",
    cache.diskHitA.seconds - cache.diskHitA.loadFromFolderSeconds < 1,
    `${cache.diskHitA.seconds.toFixed(3)} s total, loadFromFolder ${cache.diskHitA.loadFromFolderSeconds.toFixed(3)} s`,
  );
  target(
    "16 concurrent loads of an uncached version → 1 download",
    cache.concurrent.downloads === 1,
    `${cache.concurrent.downloads} download(s), ${cache.concurrent.loads} load(s)`,
  );

  log("HTTP benchmarks");
  const http = await runHttpBench({ log });
  results.http = http;
  target(
    "/run with a cached model ≥ 0.8× bare Hono req/s",
    http.plugin.rps / http.bare.rps >= 0.8,
    `${http.plugin.rps.toFixed(0)} vs ${http.bare.rps.toFixed(0)} req/s (${(http.plugin.rps / http.bare.rps).toFixed(2)}×)`,
  );

  results.totalSeconds = (Date.now() - started) / 1000;
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", "latest.json"),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  writeFileSync(join(root, "docs", "benchmarks.md"), renderMarkdown(results));
  rmSync(work, { recursive: true, force: true });
  log(
    `done in ${results.totalSeconds.toFixed(0)} s: docs/benchmarks.md, bench/results/latest.json`,
  );
}

function renderMarkdown(r) {
  const fmt = (s) => `${s.median.toFixed(3)} s (${s.min.toFixed(3)}–${s.max.toFixed(3)})`;
  const groups = [...new Set(r.cases.map((c) => c.group))];
  const lines = [
    "# Benchmarks",
    "",
    "Generated by `pnpm bench` (bench/run.mjs); do not edit by hand. Every case runs in a fresh",
    "process, several times; times are wall-clock medians with min–max, peak RSS is the",
    "largest process's. Baselines are measured in the same run on the same data. Page cache",
    "warm (we compare the code paths, not the disk).",
    "",
    `Machine: ${r.machine.cpus}, ${r.machine.memoryGiB} GiB RAM, Node ${r.machine.node}, ${r.machine.tar}, ${r.machine.python}; ${r.machine.date}. Runs per case: ${RUNS}. Total: ${r.totalSeconds.toFixed(0)} s.`,
    "",
    "Data sets: **A** one incompressible weights file of " +
      `${(A_BYTES / 1024 ** 3).toFixed(2)} GiB` +
      " + 20 small JSON files; **B** 5,000 text files of 1–64 KiB (~157 MiB); **C** a 10 KiB model.",
    "",
    "## Targets",
    "",
    "| target | result | measured |",
    "|---|---|---|",
    ...r.targets.map((t) => `| ${t.name} | ${t.pass ? "PASS" : "**MISS**"} | ${t.detail} |`),
    "",
    "## Save and load",
    "",
    "| case | implementation | time | peak RSS | uploaded |",
    "|---|---|---|---|---|",
    ...groups.flatMap((g) =>
      r.cases
        .filter((c) => c.group === g)
        .map(
          (c) =>
            `| ${g} | ${c.name} | ${fmt(c)} | ${c.maxRssMiB.toFixed(0)} MiB | ${c.uploadedBytes ?? ""} |`,
        ),
    ),
    "",
    "## Cache",
    "",
    "| measure | value |",
    "|---|---|",
    `| memory hit latency (loadRemote through the cache, ${r.cache.memoryHit.n} calls) | p50 ${r.cache.memoryHit.p50us.toFixed(1)} µs, p99 ${r.cache.memoryHit.p99us.toFixed(1)} µs |`,
    `| disk hit, fresh process, checkpoint A (loadFromFolder reads nothing) | ${r.cache.diskHitA.seconds.toFixed(3)} s (loadFromFolder ${r.cache.diskHitA.loadFromFolderSeconds.toFixed(3)} s) |`,
    `| disk hit, fresh process, checkpoint C | ${r.cache.diskHitC.seconds.toFixed(3)} s |`,
    `| 16 concurrent loadRemote of an uncached version | ${r.cache.concurrent.downloads} download, ${r.cache.concurrent.loads} loadFromFolder, ${r.cache.concurrent.distinctInstances} distinct instance |`,
    "",
    "## HTTP",
    "",
    "| server | requests/s | p50 latency |",
    "|---|---|---|",
    `| bare Hono app (same route shape, no model) | ${r.http.bare.rps.toFixed(0)} | ${r.http.bare.p50ms.toFixed(2)} ms |`,
    `| plugin-runtime /run with a cached model | ${r.http.plugin.rps.toFixed(0)} | ${r.http.plugin.p50ms.toFixed(2)} ms |`,
    "",
    "## Notes",
    "",
    "See the end of this file's source data (`bench/results/latest.json`) for every sample. The analysis of",
    "misses is kept in docs/benchmarks-notes.md.",
    "",
  ];
  return lines.join("\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
