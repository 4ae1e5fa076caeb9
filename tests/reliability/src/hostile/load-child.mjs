// A child process that loads one (hostile) checkpoint and reports what happened, with its
// own peak RSS (VmHWM), so the parent can bound the memory a load takes.
//
//   node load-child.mjs '<json>'   where json = {
//     backend: { kind: "file", root } | { kind: "s3", endpoint, region, accessKeyId, secretAccessKey, bucket, prefix },
//     workspace, pluginInstanceId, handle, tmpDir, target, diskDir?, limits?,
//     modes: ("fetch" | "loadRemote" | "cached")[]
//   }
//
// Prints one JSON line: { results: [{ mode, ok, name, code, message, ms, files? }], maxRssBytes, ms }.
import { readdir, readFile } from "node:fs/promises";
import { createModelCache } from "@trainable/cache";
import { TrainableModel } from "@trainable/core";
import { createCheckpointStore, createFileBackend } from "@trainable/storage";

class ProbeModel extends TrainableModel {
  files = [];
  async loadFromFolder(dir) {
    this.files = (await readdir(dir, { recursive: true })).sort();
  }
  async saveToFolder() {}
  async train() {
    return { status: { state: "succeeded" } };
  }
}

const started = Date.now();
const args = JSON.parse(process.argv[2]);
let backend;
if (args.backend.kind === "file") {
  backend = createFileBackend({ root: args.backend.root, fsync: false });
} else {
  const { createS3Backend } = await import("@trainable/storage/s3");
  const b = args.backend;
  backend = createS3Backend({
    bucket: b.bucket,
    prefix: b.prefix,
    endpoint: b.endpoint,
    region: b.region,
    forcePathStyle: true,
    credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
  });
}
const store = await createCheckpointStore({
  backend,
  workspace: args.workspace,
  tmpDir: args.tmpDir,
  fingerprintCache: false,
  ...(args.limits ? { limits: args.limits } : {}),
});

const results = [];
for (const mode of args.modes) {
  const t0 = Date.now();
  try {
    let files;
    if (mode === "fetch") {
      await store.fetch({
        pluginInstanceId: args.pluginInstanceId,
        handle: args.handle,
        target: args.target,
      });
      files = (await readdir(args.target, { recursive: true })).sort();
    } else if (mode === "loadRemote") {
      const model = await ProbeModel.loadRemote({
        store,
        pluginInstanceId: args.pluginInstanceId,
        handle: args.handle,
      });
      files = model.files;
    } else {
      const cache = createModelCache({
        store,
        diskDir: args.diskDir,
        logger: { warn() {}, debug() {} },
      });
      try {
        const model = await ProbeModel.loadRemote({
          store,
          pluginInstanceId: args.pluginInstanceId,
          handle: args.handle,
          cache,
        });
        files = model.files;
      } finally {
        await cache.close();
      }
    }
    results.push({ mode, ok: true, ms: Date.now() - t0, files: files.slice(0, 50) });
  } catch (error) {
    results.push({
      mode,
      ok: false,
      ms: Date.now() - t0,
      name: error?.name,
      code: error?.code,
      message: String(error?.message ?? error),
    });
  }
}
await store.close();
process.stdout.write(
  `${JSON.stringify({ results, maxRssBytes: await peakRss(), ms: Date.now() - started })}\n`,
);

/**
 * This process's own peak RSS: VmHWM of /proc/self/status on Linux. (`resourceUsage().maxRSS`
 * also counts the parent's RSS at fork time, which Linux folds in across execve.)
 */
async function peakRss() {
  try {
    const status = await readFile("/proc/self/status", "utf8");
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}
