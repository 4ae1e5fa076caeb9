// `pnpm bench`: the benchmarks, each case next to its baselines, measured in the same run.
// Generates the data sets (bench/.data), runs every sample in a fresh process, reports medians
// with min–max, and writes bench/results/latest.json (every sample of every case),
// docs/benchmarks.md and docs/benchmarks-notes.md (rendered from bench/notes.template.md; see
// bench/render.mjs and `pnpm bench:check`).
//
// Env: BENCH_RUNS            samples per case (default 5)
//      BENCH_A_BYTES         size of A's weights file (default 1 GiB)
//      BENCH_A_SMALL_BYTES   size of the smaller A used to show re-saves are flat (default 128 MiB)
//      BENCH_B_FILES         files in B (default 5,000)
//      BENCH_SKIP_S3=1       no S3 cases
//      BENCH_SKIP_EXTRAS=1   no cache, HTTP or engine benchmarks
//      BENCH_ONLY=http       only the HTTP benchmark, BENCH_HTTP_ROUNDS times (default 3):
//                            prints each round and the medians, writes nothing (no results,
//                            no docs); also BENCH_HTTP_SECONDS, BENCH_HTTP_CONNECTIONS
//      BENCH_DIAGNOSTICS=0   no diagnostic cases (trainable without fsync)
//      BENCH_PROFILE=0       no CPU profile of the cases of missed targets
//      S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION: an S3 server to use (else
//      TRAINABLE_TEST_S3_*; else scripts/s3/start-radosgw.sh, which reuses a running one)
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { runCacheBench } from "./cases/cache-bench.mjs";
import { runEngineBench } from "./cases/engine-bench.mjs";
import { runHttpBench } from "./cases/http-bench.mjs";
import { PART_SIZE, QUEUE_SIZE } from "./cases/s3-raw.mjs";
import { DATA_DIR, datasetA, datasetB, datasetC, describe } from "./datasets.mjs";
import { measureSteps, summarize } from "./measure.mjs";
import { summarizeProfiles } from "./profile-summary.mjs";
import { renderBenchmarks, renderNotes } from "./render.mjs";

const root = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const A_BYTES = Number(process.env.BENCH_A_BYTES ?? 1024 ** 3);
const A_SMALL_BYTES = Number(process.env.BENCH_A_SMALL_BYTES ?? 128 * 1024 ** 2);
const B_FILES = Number(process.env.BENCH_B_FILES ?? 5000);
const DIAGNOSTICS = process.env.BENCH_DIAGNOSTICS !== "0";
const PROFILE = process.env.BENCH_PROFILE !== "0";
const work = join(DATA_DIR, "work");
const profilesDir = join(DATA_DIR, "profiles");
const started = Date.now();
const log = (m) => console.error(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s] ${m}`);
const node = process.execPath;
const storeOp = join(import.meta.dirname, "cases", "store-op.mjs");
const s3Raw = join(import.meta.dirname, "cases", "s3-raw.mjs");

// Every store operation's fingerprint cache (and anything else that would go to
// ~/.cache/trainable) lives in a bench-owned folder.
const cacheDir = join(work, "cache-dir");
process.env.TRAINABLE_CACHE_DIR = cacheDir;
// The AWS SDK's notice about future Node versions is noise here (our S3 helpers use the SDK).
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (!/NodeVersionSupportWarning/.test(`${w.name} ${w.message}`)) console.error(w);
});

const results = {
  machine: {},
  config: {},
  timing: {},
  datasets: {},
  cases: [],
  targets: [],
  profiles: {},
};
const cases = new Map();

const fresh = (...parts) => {
  const p = join(work, ...parts);
  rmSync(p, { recursive: true, force: true });
  return p;
};
const freshDir = (...parts) => {
  const p = fresh(...parts);
  mkdirSync(p, { recursive: true });
  return p;
};
/** Before each sample, outside the timed region: write back what earlier samples left dirty. */
const settle = () => execFileSync("sync");

/** The commit measured, and whether packages/ had uncommitted changes (then dist may differ). */
function source() {
  try {
    const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      dirty: git("status", "--porcelain", "packages") !== "",
    };
  } catch {
    return undefined;
  }
}

function machine() {
  const tarVersion = execFileSync("tar", ["--version"], { encoding: "utf8" }).split("\n")[0];
  return {
    source: source(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    tar: tarVersion,
    date: new Date().toISOString(),
  };
}

// ---- cases -------------------------------------------------------------------------------------
const TIMING = {
  inProcess:
    "in-process: the store call alone (`store.save`, `store.fetch`, `resolve` + `setHandle`), in a fresh Node process; excludes Node start-up, imports and `createCheckpointStore`",
  rawInProcess:
    "in-process: the SDK transfer alone (`Upload.done()` / `GetObject` piped to a file), in a fresh Node process; excludes Node start-up, imports and making the client",
  wall: "wall clock of the command's process (fork to exit), measured by the same wrapper",
};

/**
 * A case: `role` is "trainable" (what the targets judge), "baseline", or "diagnostic" (a
 * variant kept for analysis); `timed` says what its seconds include.
 */
function defineCase({ id, group, impl, backend, dataset, role, timed, description }) {
  const c = { id, group, impl, backend, dataset, role, timed, description, samples: [] };
  cases.set(id, c);
  results.cases.push(c);
  return c;
}

function addSample(c, { window: _window, ...sample }) {
  c.samples.push(sample);
  Object.assign(c, summarize(c.samples));
  // The sample with the highest RSS, and (when it reports one) what its memory was made of.
  const peak = c.samples.reduce((a, s, i) => (s.maxRssMiB > c.samples[a].maxRssMiB ? i : a), 0);
  c.peakSample = peak;
  if (c.samples[peak].memory) c.peakMemory = c.samples[peak].memory;
  if (c.samples[0].backend) {
    const range = (f) => {
      const xs = c.samples.map(f);
      return { min: Math.min(...xs), max: Math.max(...xs) };
    };
    c.put = {
      bytes: range((s) => s.backend.put.bytes),
      requests: range((s) => s.backend.put.requests),
      archiveBytes: range((s) => s.backend.put.byKind.archive?.bytes ?? 0),
      manifestBytes: range((s) => s.backend.put.byKind.manifest?.bytes ?? 0),
      reportedUploadedBytes: range((s) => s.result?.reportedUploadedBytes ?? -1),
    };
    c.checkpointArchiveBytes = c.samples.at(-1).result?.archiveBytes;
    const m = ["get", "head", "list", "delete"];
    c.requests = Object.fromEntries(m.map((k) => [k, range((s) => s.backend[k].requests)]));
    c.requests.put = c.put.requests;
    c.requests.all = range((s) => [...m, "put"].reduce((a, k) => a + s.backend[k].requests, 0));
    c.processMedian = summarize(c.samples.map((s) => ({ ...s, seconds: s.processSeconds }))).median;
  }
}

function logCase(c) {
  const s = c.samples;
  log(
    `${c.id}: median ${c.median.toFixed(3)} s (${c.min.toFixed(3)}–${c.max.toFixed(3)}; ${s.map((x) => x.seconds.toFixed(3)).join(", ")}), peak RSS ${c.maxRssMiB.toFixed(0)} MiB${c.put ? `, put ${c.put.bytes.max} B in ${c.put.requests.max} requests (archive ${c.put.archiveBytes.max} B)` : ""}`,
  );
}

/** One store-op sample in a fresh process; the sample's seconds are the in-process time. */
function storeSample(op, url, handle, path, env = {}, nodeArgs = []) {
  const r = measureSteps([[node, ...nodeArgs, storeOp, op, url, handle, ...(path ? [path] : [])]], {
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...env },
  });
  const j = r.steps[0].json;
  return {
    seconds: j.seconds,
    processSeconds: r.seconds,
    openSeconds: j.openSeconds,
    maxRssMiB: r.maxRssMiB,
    result: j.result,
    backend: j.backend,
    memory: j.memory,
    window: { startUs: j.opStartUs, endUs: j.opEndUs },
  };
}

/** Runs the round's samples, alternating their order from one round to the next. */
function rounds(n, steps) {
  for (let i = 0; i < n; i++) {
    const order = i % 2 === 0 ? steps : [...steps].reverse();
    for (const step of order) step(i);
  }
}

// ---- S3 server ---------------------------------------------------------------------------------
function s3Env() {
  if (process.env.BENCH_SKIP_S3 === "1") return undefined;
  for (const prefix of ["S3_", "TRAINABLE_TEST_S3_"]) {
    if (process.env[`${prefix}ENDPOINT`]) {
      return {
        S3_ENDPOINT: process.env[`${prefix}ENDPOINT`],
        S3_ACCESS_KEY: process.env[`${prefix}ACCESS_KEY`],
        S3_SECRET_KEY: process.env[`${prefix}SECRET_KEY`],
        S3_REGION: process.env[`${prefix}REGION`] ?? "us-east-1",
      };
    }
  }
  log("starting the local S3 server (radosgw; reuses a running one)");
  const out = execFileSync(
    "bash",
    [join(root, "scripts/s3/start-radosgw.sh"), process.env.TRAINABLE_TEST_S3_PORT ?? "7480"],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      // A sparse 32 GiB store when it starts one here: the 1 GiB cases write several GiB.
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

async function s3Client(env) {
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY, secretAccessKey: env.S3_SECRET_KEY },
  });
}

/** Deletes every object under `prefix` of the (dedicated) bench bucket. */
async function emptyPrefix(client, bucket, prefix = "") {
  const { ListObjectsV2Command, DeleteObjectsCommand } = await import("@aws-sdk/client-s3");
  for (;;) {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }),
    );
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) break;
    await client.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
    );
  }
}

async function ensureBucket(client, bucket) {
  const { CreateBucketCommand } = await import("@aws-sdk/client-s3");
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((e) => {
    if (!/BucketAlready/.test(e.name)) throw e;
  });
}

/**
 * The local radosgw keeps deleted data until its garbage collection runs (every few seconds
 * in scripts/s3's config) and its store is a fixed-size file: before a sample that writes
 * `bytes`, wait (untimed) until the OSD has room for it. A no-op for other servers.
 */
function waitForS3Room(bytes) {
  const dir = `/tmp/radosgw-${new URL(results.config.s3?.endpoint ?? "http://x:7480").port || 80}`;
  const asok = join(dir, "run", "osd.0.asok");
  if (!existsSync(asok)) return;
  const conf = readFileSync(join(dir, "ceph.conf"), "utf8");
  const size = Number(/bluestore block size = (\d+)/.exec(conf)?.[1] ?? 0);
  if (!size) return;
  const deadline = Date.now() + 300_000;
  for (let waited = false; ; waited = true) {
    let allocated;
    try {
      const dump = JSON.parse(
        execFileSync("ceph", ["--admin-daemon", asok, "perf", "dump", "bluestore"], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        }),
      );
      allocated = dump.bluestore.bluestore_allocated;
    } catch {
      return;
    }
    if (allocated + 2 * bytes < 0.75 * size || Date.now() > deadline) {
      if (waited) log(`S3 store has room again (${(allocated / 1024 ** 3).toFixed(1)} GiB used)`);
      return;
    }
    if (!waited)
      log(
        `waiting for the S3 server's garbage collection (${(allocated / 1024 ** 3).toFixed(1)} GiB used)`,
      );
    execFileSync("sleep", ["2"]);
  }
}

// ---- file: -------------------------------------------------------------------------------------
/**
 * save X / load X on file:, against `tar -cf` straight into a store folder / `tar -xf` from
 * it (and the same followed by `sync -f`). Returns what the re-save and S3 cases reuse.
 */
function fileSaveLoad(label, dir) {
  const g = (op) => `${op} ${label}`;
  const ours = defineCase({
    id: `file-save-${label}-trainable`,
    group: g("save"),
    impl: "trainable",
    backend: "file:",
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: "store.save() into a fresh file: store (fsyncs the archive)",
  });
  const oursNoFsync = DIAGNOSTICS
    ? defineCase({
        id: `file-save-${label}-trainable-nofsync`,
        group: g("save"),
        impl: "trainable, file: ?fsync=false",
        backend: "file:",
        dataset: label,
        role: "diagnostic",
        timed: TIMING.inProcess,
        description: "the same, with the file backend's fsync off",
      })
    : undefined;
  const tar = defineCase({
    id: `file-save-${label}-tar`,
    group: g("save"),
    impl: "tar -cf",
    backend: "file:",
    dataset: label,
    role: "baseline",
    timed: TIMING.wall,
    description: "`tar -cf <store folder>/x.tar -C <folder> .`",
  });
  const tarSync = defineCase({
    id: `file-save-${label}-tar-sync`,
    group: g("save"),
    impl: "tar -cf && sync -f",
    backend: "file:",
    dataset: label,
    role: "baseline",
    timed: `${TIMING.wall}: the tar -cf sample plus \`sync -f <store folder>/x.tar\` run right after it`,
    description: "`tar -cf … && sync -f <store folder>/x.tar` (durable, like the store's fsync)",
  });

  const storeDir = join(work, `file-store-${label}`);
  let fingerprints;
  const tarStore = join(work, `tar-store-${label}`);
  rounds(RUNS, [
    () => {
      rmSync(storeDir, { recursive: true, force: true });
      fingerprints = freshDir(`fingerprints-${label}`);
      settle();
      addSample(
        ours,
        storeSample("save", `file://${storeDir}`, "v1", dir, { BENCH_FINGERPRINTS: fingerprints }),
      );
    },
    ...(oursNoFsync
      ? [
          () => {
            const d = fresh(`file-store-nofsync-${label}`);
            settle();
            addSample(
              oursNoFsync,
              storeSample("save", `file://${d}?fsync=false`, "v1", dir, {
                BENCH_FINGERPRINTS: "off",
              }),
            );
            rmSync(d, { recursive: true, force: true });
          },
        ]
      : []),
    () => {
      freshDir(`tar-store-${label}`);
      settle();
      const x = join(tarStore, "x.tar");
      const r = measureSteps([
        ["tar", "-cf", x, "-C", dir, "."],
        ["sync", "-f", x],
      ]);
      addSample(tar, { seconds: r.steps[0].seconds, maxRssMiB: r.maxRssMiB });
      addSample(tarSync, {
        seconds: r.seconds,
        maxRssMiB: r.maxRssMiB,
        steps: r.steps.map((s) => s.seconds),
      });
    },
  ]);
  for (const c of [ours, oursNoFsync, tar, tarSync]) if (c) logCase(c);
  const archivePath = join(storeDir, ...ours.samples.at(-1).result.archivePath.split("/"));

  const lOurs = defineCase({
    id: `file-load-${label}-trainable`,
    group: g("load"),
    impl: "trainable",
    backend: "file:",
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: "store.fetch() into a new folder (durable: fsyncs every file)",
  });
  const lNonDurable = DIAGNOSTICS
    ? defineCase({
        id: `file-load-${label}-trainable-nondurable`,
        group: g("load"),
        impl: "trainable, durable: false",
        backend: "file:",
        dataset: label,
        role: "diagnostic",
        timed: TIMING.inProcess,
        description: "the same with `durable: false` (no fsync)",
      })
    : undefined;
  const lTar = defineCase({
    id: `file-load-${label}-tar`,
    group: g("load"),
    impl: "tar -xf",
    backend: "file:",
    dataset: label,
    role: "baseline",
    timed: TIMING.wall,
    description: "`tar -xf <store folder>/x.tar -C <target>`",
  });
  const lTarSync = defineCase({
    id: `file-load-${label}-tar-sync`,
    group: g("load"),
    impl: "tar -xf && sync -f",
    backend: "file:",
    dataset: label,
    role: "baseline",
    timed: `${TIMING.wall}: the tar -xf sample plus \`sync -f <target>\` run right after it`,
    description: "`tar -xf … && sync -f <target>` (durable, like the store's fsyncs)",
  });
  rounds(RUNS, [
    () => {
      const target = fresh(`load-${label}`);
      settle();
      addSample(lOurs, storeSample("load", `file://${storeDir}`, "v1", target));
    },
    ...(lNonDurable
      ? [
          () => {
            const target = fresh(`load-${label}`);
            settle();
            addSample(
              lNonDurable,
              storeSample("load", `file://${storeDir}`, "v1", target, { BENCH_DURABLE: "0" }),
            );
          },
        ]
      : []),
    () => {
      const target = freshDir(`load-${label}`);
      settle();
      const r = measureSteps([
        ["tar", "-xf", join(tarStore, "x.tar"), "-C", target],
        ["sync", "-f", target],
      ]);
      addSample(lTar, { seconds: r.steps[0].seconds, maxRssMiB: r.maxRssMiB });
      addSample(lTarSync, {
        seconds: r.seconds,
        maxRssMiB: r.maxRssMiB,
        steps: r.steps.map((s) => s.seconds),
      });
    },
  ]);
  fresh(`load-${label}`);
  rmSync(tarStore, { recursive: true, force: true });
  for (const c of [lOurs, lNonDurable, lTar, lTarSync]) if (c) logCase(c);
  return {
    url: `file://${storeDir}`,
    fingerprints,
    archivePath,
    profile: {
      [`save-${label}-file`]: (nodeArgs) => {
        const d = fresh(`file-store-profile-${label}`);
        settle();
        const s = storeSample(
          "save",
          `file://${d}`,
          "v1",
          dir,
          { BENCH_FINGERPRINTS: "off" },
          nodeArgs,
        );
        rmSync(d, { recursive: true, force: true });
        return s;
      },
      [`load-${label}-file`]: (nodeArgs) => {
        const target = fresh(`load-${label}`);
        settle();
        const s = storeSample("load", `file://${storeDir}`, "v1", target, {}, nodeArgs);
        fresh(`load-${label}`);
        return s;
      },
    },
  };
}

/**
 * Re-saves of an unchanged folder (same store, same fingerprint cache, fresh process each) and
 * setAsDefault (`resolve` + `setHandle("default")`), with what they put, counted at the backend.
 */
function resaveCases({ backend, label, dir, url, fingerprints, profile, env: extraEnv = {} }) {
  const key = backend === "file:" ? "file" : "s3";
  const resave = defineCase({
    id: `${key}-resave-${label}-trainable`,
    group: `re-save ${label} (unchanged)`,
    impl: "trainable",
    backend,
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: "store.save() of the folder saved before, same handle, same fingerprint cache",
  });
  const setdef = defineCase({
    id: `${key}-setdefault-${label}-trainable`,
    group: `setAsDefault ${label}`,
    impl: "trainable",
    backend,
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: 'store.resolve() + store.setHandle({ handle: "default" })',
  });
  const env = { ...extraEnv, BENCH_FINGERPRINTS: fingerprints };
  for (let i = 0; i < RUNS; i++) {
    settle();
    addSample(resave, storeSample("save", url, "v1", dir, env));
  }
  for (let i = 0; i < RUNS; i++) {
    settle();
    addSample(setdef, storeSample("setdefault", url, "v1", undefined, env));
  }
  logCase(resave);
  logCase(setdef);
  if (profile) {
    profile[`resave-${label}-${key}`] = (nodeArgs) => {
      settle();
      return storeSample("save", url, "v1", dir, env, nodeArgs);
    };
  }
}

// ---- S3 ----------------------------------------------------------------------------------------
async function s3Cases({ label, dir, env, client, bucket, storeUrl, fileArchive }) {
  const g = (op) => `${op} ${label}`;
  const nodeEnv = { ...process.env, ...env, NODE_NO_WARNINGS: "1" };
  const raw = (op, key, file) => [node, s3Raw, op, bucket, key, file];
  const ours = defineCase({
    id: `s3-save-${label}-trainable`,
    group: g("save"),
    impl: "trainable",
    backend: "s3:",
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: "store.save() into a fresh S3 store prefix",
  });
  const isA = label.startsWith("A");
  const base = defineCase({
    id: isA ? `s3-save-${label}-raw` : `s3-save-${label}-tar-raw`,
    group: g("save"),
    impl: isA ? "raw SDK put" : "tar -cf + raw SDK put",
    backend: "s3:",
    dataset: label,
    role: "baseline",
    timed: isA
      ? TIMING.rawInProcess
      : `sum of the same sample's \`tar -cf\` (${TIMING.wall}) and the raw put (${TIMING.rawInProcess})`,
    description: isA
      ? "lib-storage Upload of the very archive file the file: store holds for A (the same bytes)"
      : "`tar -cf x.tar -C <folder> .`, then a lib-storage Upload of x.tar",
  });
  const loadOurs = defineCase({
    id: `s3-load-${label}-trainable`,
    group: g("load"),
    impl: "trainable",
    backend: "s3:",
    dataset: label,
    role: "trainable",
    timed: TIMING.inProcess,
    description: "store.fetch() into a new folder (durable: fsyncs every file)",
  });
  const loadNonDurable = DIAGNOSTICS
    ? defineCase({
        id: `s3-load-${label}-trainable-nondurable`,
        group: g("load"),
        impl: "trainable, durable: false",
        backend: "s3:",
        dataset: label,
        role: "diagnostic",
        timed: TIMING.inProcess,
        description: "the same with `durable: false` (no fsync)",
      })
    : undefined;
  const loadBase = defineCase({
    id: isA ? `s3-load-${label}-raw` : `s3-load-${label}-raw-tar`,
    group: g("load"),
    impl: isA ? "raw SDK get" : "raw SDK get + tar -xf",
    backend: "s3:",
    dataset: label,
    role: "baseline",
    timed: isA
      ? TIMING.rawInProcess
      : `sum of the same sample's raw get (${TIMING.rawInProcess}) and \`tar -xf\` (${TIMING.wall})`,
    description: isA
      ? "GetObject of that archive, piped to a file"
      : "GetObject of x.tar to a file, then `tar -xf x.tar -C <target>`",
  });
  const loadBaseSync = defineCase({
    id: `${loadBase.id}-sync`,
    group: g("load"),
    impl: `${loadBase.impl} && sync -f`,
    backend: "s3:",
    dataset: label,
    role: "baseline",
    timed: `${loadBase.timed}, plus \`sync -f\` (${TIMING.wall}) run right after`,
    description: `${loadBase.description}, then \`sync -f\` of what it wrote (durable)`,
  });

  const bytes = describe(dir).bytes;
  let prefix;
  let fingerprints;
  let rawKey;
  const tarFile = join(work, `s3-${label}.tar`);
  for (let i = 0; i < RUNS; i++) {
    const steps = [
      async () => {
        if (prefix) await emptyPrefix(client, bucket, `${prefix}/`);
        waitForS3Room(bytes);
        prefix = `save-${label}-${i}-${randomUUID().slice(0, 8)}`;
        fingerprints = freshDir(`fingerprints-s3-${label}`);
        settle();
        addSample(
          ours,
          storeSample("save", storeUrl(prefix), "v1", dir, {
            ...env,
            BENCH_FINGERPRINTS: fingerprints,
          }),
        );
      },
      async () => {
        if (rawKey) await emptyPrefix(client, bucket, rawKey);
        waitForS3Room(bytes);
        rawKey = `raw/${label}-${i}-${randomUUID().slice(0, 8)}.tar`;
        rmSync(tarFile, { force: true });
        settle();
        if (isA) {
          const r = measureSteps([raw("put", rawKey, fileArchive)], { env: nodeEnv });
          addSample(base, {
            seconds: r.steps[0].json.seconds,
            processSeconds: r.seconds,
            maxRssMiB: r.maxRssMiB,
            bytes: r.steps[0].json.bytes,
            memory: r.steps[0].json.memory,
          });
        } else {
          const r = measureSteps(
            [["tar", "-cf", tarFile, "-C", dir, "."], raw("put", rawKey, tarFile)],
            { env: nodeEnv },
          );
          addSample(base, {
            seconds: r.steps[0].seconds + r.steps[1].json.seconds,
            steps: [r.steps[0].seconds, r.steps[1].json.seconds],
            maxRssMiB: r.maxRssMiB,
            bytes: r.steps[1].json.bytes,
            memory: r.steps[1].json.memory,
          });
        }
      },
    ];
    for (const step of i % 2 === 0 ? steps : [...steps].reverse()) await step();
  }
  logCase(ours);
  logCase(base);

  const getFile = join(work, `s3-get-${label}.tar`);
  for (let i = 0; i < RUNS; i++) {
    const steps = [
      () => {
        const target = fresh(`s3-load-${label}`);
        settle();
        addSample(loadOurs, storeSample("load", storeUrl(prefix), "v1", target, env));
      },
      ...(loadNonDurable
        ? [
            () => {
              const target = fresh(`s3-load-${label}`);
              settle();
              addSample(
                loadNonDurable,
                storeSample("load", storeUrl(prefix), "v1", target, { ...env, BENCH_DURABLE: "0" }),
              );
            },
          ]
        : []),
      () => {
        rmSync(getFile, { force: true });
        const target = freshDir(`s3-load-${label}`);
        settle();
        if (isA) {
          const r = measureSteps([raw("get", rawKey, getFile), ["sync", "-f", getFile]], {
            env: nodeEnv,
          });
          const get = r.steps[0].json.seconds;
          addSample(loadBase, {
            seconds: get,
            processSeconds: r.steps[0].seconds,
            maxRssMiB: r.maxRssMiB,
            memory: r.steps[0].json.memory,
          });
          addSample(loadBaseSync, {
            seconds: get + r.steps[1].seconds,
            steps: [get, r.steps[1].seconds],
            maxRssMiB: r.maxRssMiB,
          });
        } else {
          const r = measureSteps(
            [
              raw("get", rawKey, getFile),
              ["tar", "-xf", getFile, "-C", target],
              ["sync", "-f", target],
            ],
            { env: nodeEnv },
          );
          const get = r.steps[0].json.seconds;
          addSample(loadBase, {
            seconds: get + r.steps[1].seconds,
            steps: [get, r.steps[1].seconds],
            maxRssMiB: r.maxRssMiB,
          });
          addSample(loadBaseSync, {
            seconds: get + r.steps[1].seconds + r.steps[2].seconds,
            steps: [get, r.steps[1].seconds, r.steps[2].seconds],
            maxRssMiB: r.maxRssMiB,
          });
        }
      },
    ];
    for (const step of i % 2 === 0 ? steps : [...steps].reverse()) step();
  }
  fresh(`s3-load-${label}`);
  rmSync(getFile, { force: true });
  rmSync(tarFile, { force: true });
  for (const c of [loadOurs, loadNonDurable, loadBase, loadBaseSync]) if (c) logCase(c);
  await emptyPrefix(client, bucket, rawKey);
  return {
    url: storeUrl(prefix),
    fingerprints,
    profile: {
      [`save-${label}-s3`]: (nodeArgs) => {
        const p = `profile-${label}-${randomUUID().slice(0, 8)}`;
        waitForS3Room(bytes);
        settle();
        return storeSample(
          "save",
          storeUrl(p),
          "v1",
          dir,
          { ...env, BENCH_FINGERPRINTS: "off" },
          nodeArgs,
        );
      },
      [`load-${label}-s3`]: (nodeArgs) => {
        const target = fresh(`s3-load-${label}`);
        settle();
        const s = storeSample("load", storeUrl(prefix), "v1", target, env, nodeArgs);
        fresh(`s3-load-${label}`);
        return s;
      },
    },
  };
}

// ---- targets -----------------------------------------------------------------------------------
function pairTarget({ id, name, goal, threshold, ours, base, durable }) {
  const o = cases.get(ours);
  const b = cases.get(base);
  if (!o || !b) return;
  const d = durable ? cases.get(durable) : undefined;
  const ratio = b.median / o.median;
  const t = {
    id,
    name,
    goal,
    threshold,
    kind: "ratio",
    ours,
    baseline: base,
    ratio,
    pass: ratio >= threshold,
    oursMedian: o.median,
    baselineMedian: b.median,
    // The time trainable would have to lose to meet the goal (≤ 0: met).
    excessSeconds: o.median - b.median / threshold,
    ...(d
      ? { durableBaseline: durable, durableMedian: d.median, durableRatio: d.median / o.median }
      : {}),
  };
  // The diagnostic variant without fsync (when measured): would it meet the goal?
  const diag = [...cases.values()].find(
    (c) => c.role === "diagnostic" && c.group === o.group && c.backend === o.backend,
  );
  if (diag) {
    t.diagnostic = diag.id;
    t.diagnosticMedian = diag.median;
    t.diagnosticRatio = b.median / diag.median;
    t.fsyncSeconds = o.median - diag.median;
  }
  results.targets.push(t);
  log(`${t.pass ? "PASS" : "MISS"} ${name}: ${ratio.toFixed(2)}× (goal ${goal})`);
}

function computeTargets() {
  const pairs = [
    [
      "save-A-file",
      "save A on file:",
      0.8,
      "file-save-A-trainable",
      "file-save-A-tar",
      "file-save-A-tar-sync",
      "tar -cf",
    ],
    [
      "load-A-file",
      "load A on file:",
      0.8,
      "file-load-A-trainable",
      "file-load-A-tar",
      "file-load-A-tar-sync",
      "tar -xf",
    ],
    [
      "save-B-file",
      "save B on file:",
      0.5,
      "file-save-B-trainable",
      "file-save-B-tar",
      "file-save-B-tar-sync",
      "tar -cf",
    ],
    [
      "load-B-file",
      "load B on file:",
      0.5,
      "file-load-B-trainable",
      "file-load-B-tar",
      "file-load-B-tar-sync",
      "tar -xf",
    ],
    [
      "save-A-s3",
      "save A on S3",
      0.95,
      "s3-save-A-trainable",
      "s3-save-A-raw",
      undefined,
      "raw SDK put",
    ],
    [
      "load-A-s3",
      "load A on S3",
      0.95,
      "s3-load-A-trainable",
      "s3-load-A-raw",
      "s3-load-A-raw-sync",
      "raw SDK get",
    ],
    [
      "save-B-s3",
      "save B on S3",
      0.8,
      "s3-save-B-trainable",
      "s3-save-B-tar-raw",
      undefined,
      "tar -cf + raw SDK put",
    ],
    [
      "load-B-s3",
      "load B on S3",
      0.8,
      "s3-load-B-trainable",
      "s3-load-B-raw-tar",
      "s3-load-B-raw-tar-sync",
      "raw SDK get + tar -xf",
    ],
  ];
  for (const [id, name, threshold, ours, base, durable, baseName] of pairs) {
    pairTarget({ id, name, goal: `≥ ${threshold}× ${baseName}`, threshold, ours, base, durable });
  }
  const LIMIT = 0.25;
  const FLAT = 1.5;
  for (const key of ["file", "s3"]) {
    const big = cases.get(`${key}-resave-A-trainable`);
    const small = cases.get(`${key}-resave-A-small-trainable`);
    if (!big || !small) continue;
    const growth = big.median / small.median;
    const t = {
      id: `resave-A-${key}`,
      name: `re-save of an unchanged A on ${key === "file" ? "file:" : "S3"}`,
      goal: `< ${LIMIT} s, flat in checkpoint bytes (A's median ≤ ${FLAT}× the smaller A's)`,
      kind: "resave",
      ours: big.id,
      small: small.id,
      limitSeconds: LIMIT,
      flatFactor: FLAT,
      seconds: big.median,
      smallSeconds: small.median,
      growth,
      bytesFactor: big.checkpointArchiveBytes / small.checkpointArchiveBytes,
      pass: big.median < LIMIT && small.median < LIMIT && growth <= FLAT,
    };
    results.targets.push(t);
    log(
      `${t.pass ? "PASS" : "MISS"} ${t.name}: ${big.median.toFixed(3)} s vs ${small.median.toFixed(3)} s`,
    );
  }
  // No checkpoint bytes for a re-save or a setAsDefault, counted at the backend.
  const noBlob = results.cases.filter((c) => /-(resave|setdefault)-/.test(c.id));
  if (noBlob.length) {
    const worst = Math.max(...noBlob.map((c) => c.put.archiveBytes.max + c.put.manifestBytes.max));
    const t = {
      id: "no-blob-bytes",
      name: "re-save of an unchanged folder and setAsDefault put no archive or manifest bytes",
      goal: "0 archive + manifest bytes put, counted at the backend",
      kind: "bytes",
      cases: noBlob.map((c) => c.id),
      maxBlobBytes: worst,
      maxPutBytes: Math.max(...noBlob.map((c) => c.put.bytes.max)),
      pass: worst === 0,
    };
    results.targets.push(t);
    log(`${t.pass ? "PASS" : "MISS"} ${t.name}: ${worst} B`);
  }
  const ourCases = results.cases.filter((c) => c.role !== "baseline");
  const peak = ourCases.reduce((a, c) => (c.maxRssMiB > a.maxRssMiB ? c : a));
  const t = {
    id: "peak-rss",
    name: "peak RSS, any trainable case",
    goal: "< 200 MiB",
    kind: "rss",
    limitMiB: 200,
    maxRssMiB: peak.maxRssMiB,
    case: peak.id,
    pass: peak.maxRssMiB < 200,
  };
  results.targets.push(t);
  log(`${t.pass ? "PASS" : "MISS"} ${t.name}: ${peak.maxRssMiB.toFixed(0)} MiB (${peak.id})`);
}

/** One CPU-profiled sample (`node --cpu-prof`) of the trainable case of each missed target. */
function profileMisses(profilers) {
  rmSync(profilesDir, { recursive: true, force: true });
  for (const t of results.targets) {
    if (t.pass || !profilers[t.id]) continue;
    const dir = join(profilesDir, t.id);
    mkdirSync(dir, { recursive: true });
    log(`profiling ${t.id} (node --cpu-prof)`);
    const sample = profilers[t.id](["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    results.profiles[t.id] = {
      id: t.id,
      case: t.ours,
      dir: `bench/.data/profiles/${t.id}`,
      seconds: sample.seconds,
      maxRssMiB: sample.maxRssMiB,
      backend: sample.backend,
      memory: sample.memory,
      threads: summarizeProfiles(
        files.map((f) => join(dir, f)),
        sample.window,
      ),
    };
  }
}

// ---- main --------------------------------------------------------------------------------------
async function main() {
  let s3Cleanup;
  results.machine = machine();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });
  log("generating data sets");
  const sets = {
    A: datasetA(A_BYTES),
    "A-small": datasetA(A_SMALL_BYTES),
    B: datasetB(B_FILES),
  };
  for (const [label, dir] of Object.entries(sets)) {
    results.datasets[label] = { label, ...describe(dir) };
  }
  results.config = {
    runs: RUNS,
    aBytes: A_BYTES,
    aSmallBytes: A_SMALL_BYTES,
    bFiles: B_FILES,
    diagnostics: DIAGNOSTICS,
    profile: PROFILE,
    s3PartSize: PART_SIZE,
    s3QueueSize: QUEUE_SIZE,
  };
  results.timing = TIMING;
  const profilers = {};

  log("file: save and load");
  const fileA = fileSaveLoad("A", sets.A);
  const fileB = fileSaveLoad("B", sets.B);
  Object.assign(profilers, fileA.profile, fileB.profile);
  log("file: re-saves and setAsDefault");
  const smallStore = `file://${fresh("file-store-A-small")}`;
  const smallFingerprints = freshDir("fingerprints-A-small");
  storeSample("save", smallStore, "v1", sets["A-small"], { BENCH_FINGERPRINTS: smallFingerprints });
  for (const [label, s] of [
    ["A", fileA],
    ["A-small", { url: smallStore, fingerprints: smallFingerprints }],
    ["B", fileB],
  ]) {
    resaveCases({
      backend: "file:",
      label,
      dir: sets[label],
      url: s.url,
      fingerprints: s.fingerprints,
      profile: profilers,
    });
  }

  const s3 = s3Env();
  if (s3) {
    results.config.s3 = { endpoint: s3.S3_ENDPOINT };
    const bucket = "trainable-bench";
    const client = await s3Client(s3);
    await ensureBucket(client, bucket);
    await emptyPrefix(client, bucket);
    const env = {
      ...s3,
      S3_BUCKET: bucket,
      AWS_ACCESS_KEY_ID: s3.S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: s3.S3_SECRET_KEY,
      AWS_REGION: s3.S3_REGION,
    };
    const storeUrl = (name) =>
      `s3://${bucket}/${name}?endpoint=${encodeURIComponent(s3.S3_ENDPOINT)}&region=${s3.S3_REGION}&forcePathStyle=true`;
    const got = {};
    for (const label of ["A", "B"]) {
      log(`S3: save and load ${label}`);
      got[label] = await s3Cases({
        label,
        dir: sets[label],
        env,
        client,
        bucket,
        storeUrl,
        fileArchive: fileA.archivePath,
      });
      Object.assign(profilers, got[label].profile);
    }
    log("S3: re-saves and setAsDefault");
    const smallPrefix = `resave-A-small-${randomUUID().slice(0, 8)}`;
    const smallS3Fp = freshDir("fingerprints-s3-A-small");
    storeSample("save", storeUrl(smallPrefix), "v1", sets["A-small"], {
      ...env,
      BENCH_FINGERPRINTS: smallS3Fp,
    });
    for (const [label, s] of [
      ["A", got.A],
      ["A-small", { url: storeUrl(smallPrefix), fingerprints: smallS3Fp }],
      ["B", got.B],
    ]) {
      resaveCases({
        backend: "s3:",
        label,
        dir: sets[label],
        url: s.url,
        fingerprints: s.fingerprints,
        env,
        profile: profilers,
      });
    }
    s3Cleanup = async () => {
      await emptyPrefix(client, bucket);
      client.destroy();
    };
  }

  computeTargets();
  if (PROFILE) profileMisses(profilers);
  await s3Cleanup?.();

  if (process.env.BENCH_SKIP_EXTRAS !== "1") {
    log("cache benchmarks");
    const cache = await runCacheBench({
      datasetA: sets.A,
      datasetC: datasetC(),
      work,
      log,
    });
    results.cache = cache;
    const extra = (id, name, pass, detail) => {
      results.targets.push({ id, name, kind: "extra", pass, detail });
      log(`${pass ? "PASS" : "MISS"} ${name}: ${detail}`);
    };
    extra(
      "cache-memory-hit",
      "memory-hit p50 < 50 µs",
      cache.memoryHit.p50us < 50,
      `p50 ${cache.memoryHit.p50us.toFixed(1)} µs, p99 ${cache.memoryHit.p99us.toFixed(1)} µs`,
    );
    extra(
      "cache-disk-hit",
      "disk-hit load of A in a fresh process < 1 s + loadFromFolder",
      cache.diskHitA.seconds - cache.diskHitA.loadFromFolderSeconds < 1,
      `${cache.diskHitA.seconds.toFixed(3)} s total, loadFromFolder ${cache.diskHitA.loadFromFolderSeconds.toFixed(3)} s`,
    );
    extra(
      "cache-concurrent",
      "16 concurrent loads of an uncached version → 1 download",
      cache.concurrent.downloads === 1,
      `${cache.concurrent.downloads} download(s), ${cache.concurrent.loads} load(s)`,
    );
    log("HTTP benchmarks");
    const http = await runHttpBench({ log });
    results.http = http;
    extra(
      "http-run",
      "/run with a cached model ≥ 0.8× bare Hono req/s",
      http.plugin.rps / http.bare.rps >= 0.8,
      `${http.plugin.rps.toFixed(0)} vs ${http.bare.rps.toFixed(0)} req/s (${(http.plugin.rps / http.bare.rps).toFixed(2)}×); server CPU per request ${http.plugin.cpuUsPerRequest.toFixed(1)} vs ${http.bare.cpuUsPerRequest.toFixed(1)} µs`,
    );
  }

  if (process.env.BENCH_SKIP_EXTRAS !== "1") {
    log("engine benchmarks");
    results.engine = await runEngineBench({ work, log });
  }

  results.totalSeconds = (Date.now() - started) / 1000;
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", "latest.json"),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  writeFileSync(join(root, "docs", "benchmarks.md"), renderBenchmarks(results));
  const template = readFileSync(join(import.meta.dirname, "notes.template.md"), "utf8");
  const notes = renderNotes(template, results);
  writeFileSync(join(root, "docs", "benchmarks-notes.md"), notes.text);
  for (const problem of notes.problems) log(`notes: ${problem}`);
  rmSync(work, { recursive: true, force: true });
  log(
    `done in ${results.totalSeconds.toFixed(0)} s: bench/results/latest.json, docs/benchmarks.md, docs/benchmarks-notes.md${notes.problems.length ? ` (the notes have ${notes.problems.length} problem(s): update bench/notes.template.md, then \`pnpm bench:check\`)` : ""}`,
  );
}

/** `BENCH_ONLY=http`: the HTTP benchmark alone, a few rounds, medians printed, nothing written. */
async function httpOnly() {
  const rounds = Number(process.env.BENCH_HTTP_ROUNDS ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(
      `BENCH_HTTP_ROUNDS must be a positive integer, not "${process.env.BENCH_HTTP_ROUNDS}"`,
    );
  }
  const runs = [];
  for (let i = 1; i <= rounds; i++) {
    log(`HTTP benchmark, round ${i} of ${rounds}`);
    runs.push(await runHttpBench({ log }));
  }
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const of = (f) => median(runs.map(f));
  const summary = {
    rounds,
    bareRps: of((r) => r.bare.rps),
    pluginRps: of((r) => r.plugin.rps),
    rpsRatio: of((r) => r.plugin.rps / r.bare.rps),
    bareCpuUsPerRequest: of((r) => r.bare.cpuUsPerRequest),
    pluginCpuUsPerRequest: of((r) => r.plugin.cpuUsPerRequest),
    cpuRatio: of((r) => r.bare.cpuUsPerRequest / r.plugin.cpuUsPerRequest),
    ratios: runs.map((r) => Number((r.plugin.rps / r.bare.rps).toFixed(3))),
  };
  log(
    `medians of ${rounds} round(s): bare ${summary.bareRps.toFixed(0)} req/s, plugin ${summary.pluginRps.toFixed(0)} req/s, ratio ${summary.rpsRatio.toFixed(2)}× (goal 0.8×; rounds ${summary.ratios.join(", ")}); server CPU per request: bare ${summary.bareCpuUsPerRequest.toFixed(1)} µs, plugin ${summary.pluginCpuUsPerRequest.toFixed(1)} µs (bare/plugin ${summary.cpuRatio.toFixed(2)}×)`,
  );
  console.log(JSON.stringify(summary));
}

const only = process.env.BENCH_ONLY;
if (only !== undefined && only !== "" && only !== "http") {
  console.error(`BENCH_ONLY="${only}" is not a mode: the one there is is "http"`);
  process.exit(2);
}
(only === "http" ? httpOnly() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
