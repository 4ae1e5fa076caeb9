// One checkpoint-store operation in a fresh process, for measure():
//   node store-op.mjs <save|load|setdefault> <storeUrl> <handle> [folder|target]
// Env: BENCH_FINGERPRINTS  the store's fingerprint-cache folder (`off`: none; unset: the
//                          store's default, which run.mjs points at a bench-owned folder
//                          through TRAINABLE_CACHE_DIR)
//      BENCH_DURABLE=0     load with `durable: false` (a diagnostic: extraction without fsync)
//      BENCH_NO_COUNT=1    pass the backend unwrapped (to check the counting costs nothing)
//
// The backend is `createBackend(url)` wrapped in an object that delegates every method and
// counts what reaches it: requests per method, and the bytes of every put body (streams are
// counted as they flow through a pass-through on their way to the real backend), by kind of
// key (archive, manifest, index record, ref version, pin, …). So uploaded bytes are measured
// at the backend, not taken from the library's own report (which is printed beside them).
//
// Prints one JSON line: { op, seconds (the operation alone, in-process), openSeconds
// (createCheckpointStore), result, backend: { put, get, head, list, delete, sweep } }.
import { pipeline, Transform } from "node:stream";
import { createBackend, createCheckpointStore } from "@trainable/storage";

const [op, url, handle, path] = process.argv.slice(2);

/** What a store key is, from its layout (packages/storage/src/checkpoint/keys.ts). */
function kindOf(key) {
  const m = /^[^/]+\/[^/]+\/(blobs|index|refs|pins|doomed|quarantine|gc)\//.exec(key);
  if (!m) return key.includes("/") ? "other" : "store marker";
  if (m[1] === "blobs") return key.endsWith(".manifest") ? "manifest" : "archive";
  return { index: "index record", refs: "ref version", pins: "pin" }[m[1]] ?? m[1];
}

function countingBackend(inner) {
  // Per method: requests, and seconds from the call until its promise settled (summed, so
  // concurrent requests add up; a get's seconds end when its body stream is handed over).
  const fresh = () => ({
    put: { requests: 0, bytes: 0, seconds: 0, byKind: {} },
    get: { requests: 0, seconds: 0, byKind: {} },
    head: { requests: 0, seconds: 0 },
    list: { requests: 0, seconds: 0 },
    delete: { requests: 0, seconds: 0 },
    sweep: { requests: 0, seconds: 0 },
  });
  let counts = fresh();
  const timed = async (method, call) => {
    const row = counts[method];
    row.requests++;
    const t0 = performance.now();
    try {
      return await call();
    } finally {
      row.seconds += (performance.now() - t0) / 1000;
    }
  };
  const kindRow = (key) => {
    const kind = kindOf(key);
    counts.put.byKind[kind] ??= { requests: 0, bytes: 0, seconds: 0 };
    return counts.put.byKind[kind];
  };
  const backend = {
    get name() {
      return inner.name;
    },
    get capabilities() {
      return inner.capabilities;
    },
    get description() {
      return inner.description;
    },
    async put(key, body, options) {
      const row = kindRow(key);
      counts.put.requests++;
      row.requests++;
      const add = (n) => {
        counts.put.bytes += n;
        row.bytes += n;
      };
      let sent = body;
      if (body instanceof Uint8Array) {
        add(body.byteLength);
      } else {
        sent = new Transform({
          transform(chunk, _encoding, done) {
            add(chunk.length);
            done(null, chunk);
          },
        });
        pipeline(body, sent, () => {});
      }
      const t0 = performance.now();
      try {
        return await inner.put(key, sent, options);
      } finally {
        const dt = (performance.now() - t0) / 1000;
        counts.put.seconds += dt;
        row.seconds += dt;
      }
    },
    get(key, options) {
      const kind = kindOf(key);
      counts.get.byKind[kind] = (counts.get.byKind[kind] ?? 0) + 1;
      return timed("get", () => inner.get(key, options));
    },
    head(key, options) {
      return timed("head", () => inner.head(key, options));
    },
    list(prefix, options) {
      counts.list.requests++;
      const row = counts.list;
      // Seconds the listing was open (first request to last page), consumer's time included.
      return (async function* () {
        const t0 = performance.now();
        try {
          yield* inner.list(prefix, options);
        } finally {
          row.seconds += (performance.now() - t0) / 1000;
        }
      })();
    },
    delete(key, options) {
      return timed("delete", () => inner.delete(key, options));
    },
  };
  if (inner.sweep) {
    backend.sweep = (prefix, options) => timed("sweep", () => inner.sweep(prefix, options));
  }
  if (inner.close) backend.close = () => inner.close();
  /** The counts so far; counting starts again from zero. */
  const take = () => {
    const taken = counts;
    counts = fresh();
    return taken;
  };
  return { backend, take };
}

const fingerprints = process.env.BENCH_FINGERPRINTS;
const counted = countingBackend(await createBackend(url));
const backend = process.env.BENCH_NO_COUNT === "1" ? await createBackend(url) : counted.backend;
const { take } = counted;
const tOpen = performance.now();
const store = await createCheckpointStore({
  backend,
  workspace: "bench",
  ...(fingerprints === undefined
    ? {}
    : { fingerprintCache: fingerprints === "off" ? false : fingerprints }),
  ...(process.env.BENCH_DURABLE === "0" ? { durable: false } : {}),
});
const openSeconds = (performance.now() - tOpen) / 1000;
// Requests made while opening the store (the format-marker check) are not the operation's.
const opening = take();
const out = { op };
// What the process's memory is made of at its (sampled) peak: RSS, and the main thread's JS
// heap, external memory and ArrayBuffers (workers' heaps are in the RSS only). Every 50 ms.
const MIB = 1024 * 1024;
const memory = {
  samples: 0,
  peakRssMiB: 0,
  atPeak: undefined,
  maxHeapUsedMiB: 0,
  maxArrayBuffersMiB: 0,
};
const sampleMemory = () => {
  const m = process.memoryUsage();
  memory.samples++;
  memory.maxHeapUsedMiB = Math.max(memory.maxHeapUsedMiB, m.heapUsed / MIB);
  memory.maxArrayBuffersMiB = Math.max(memory.maxArrayBuffersMiB, m.arrayBuffers / MIB);
  if (m.rss / MIB > memory.peakRssMiB) {
    memory.peakRssMiB = m.rss / MIB;
    memory.atPeak = {
      heapUsedMiB: m.heapUsed / MIB,
      heapTotalMiB: m.heapTotal / MIB,
      externalMiB: m.external / MIB,
      arrayBuffersMiB: m.arrayBuffers / MIB,
    };
  }
};
const sampler = setInterval(sampleMemory, 50);
sampleMemory();
// The operation's window on the monotonic clock CPU profiles use (µs), for profile summaries.
out.opStartUs = Number(process.hrtime.bigint() / 1000n);
const t0 = performance.now();
if (op === "save") {
  const r = await store.save({
    pluginInstanceId: "model",
    handle,
    folder: path,
    setAsDefault: false,
  });
  out.result = {
    archiveBytes: r.ref.size,
    manifestSize: r.ref.manifestSize,
    fileCount: r.ref.fileCount,
    totalBytes: r.ref.totalBytes,
    archivePath: r.ref.archivePath,
    reportedUploadedBytes: r.uploadedBytes,
  };
} else if (op === "load") {
  const ref = await store.fetch({ pluginInstanceId: "model", handle, target: path });
  out.result = { archiveBytes: ref.size, fileCount: ref.fileCount, totalBytes: ref.totalBytes };
} else if (op === "setdefault") {
  const ref = await store.resolve({ pluginInstanceId: "model", handle });
  await store.setHandle({ pluginInstanceId: "model", handle: "default", ref });
  out.result = { archiveBytes: ref.size };
} else {
  throw new Error(`unknown op ${op}`);
}
out.seconds = (performance.now() - t0) / 1000;
out.opEndUs = Number(process.hrtime.bigint() / 1000n);
sampleMemory();
clearInterval(sampler);
out.memory = memory;
out.openSeconds = openSeconds;
await store.close();
out.backend = take();
out.openRequests = Object.fromEntries(
  Object.entries(opening).map(([method, c]) => [method, c.requests]),
);
console.log(JSON.stringify(out));
