// A child process of the storage-fault suites: `node child.mjs` with TRAINABLE_CHILD_ARGS (JSON).
// It imports the BUILT packages by name, opens the store, prints {"event":"ready"} and waits for
// a "go" line on stdin (a start barrier shared by concurrent children), then runs one operation
// and prints {"event":"done", ...} or {"event":"error", code, name, message} (one JSON line each).
//
// Operations (args.op):
//   save   — FolderModel.saveRemote of args.folder to args.handle (setAsDefault, expectedDigest:
//            a digest, null, or "resolve" = read the handle's current digest before the barrier)
//   load   — FolderModel.loadRemote of args.handle through a model cache on args.diskDir
//   prune  — store.prune({ keepLast })
//   gc     — store.gc({ minAgeMs })
//
// Store options: args.store = { refHistory, pinTtlMs, fingerprintCache } (fingerprintCache is
// false unless given: a child never writes to the user's ~/.cache).
//
// Crash hook (a wrapped backend): args.killAt makes the child SIGKILL itself during a save:
//   "mid-upload"      once half of the archive was sent
//   "after-archive"   right after the archive (blobs/{id}.tar) was stored
//   "after-manifest"  right after its manifest (blobs/{id}.manifest)
//   "after-index"     right after its index record (index/sha256/{hex}/{id}.json)
//   "after-ref"       right after the handle's new ref version (refs/{handle}/…)
//   "before-default"  right before the default handle's new ref version is written
//   "after-default"   right after it
//
// Holds (stale writers): args.holdAt = "ref-put" holds the save's first ref-version write of
// args.handle (its compare-and-swap already checked), printing {"event":"held"}, until a
// "release" line arrives on stdin; "before-save" waits for "release" before the save starts
// (after the "go" barrier and after resolving the expected digest).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { cp, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TrainableModel } from "@trainable/core";
import { createCheckpointStore, createFileBackend } from "@trainable/storage";

const args = JSON.parse(process.env.TRAINABLE_CHILD_ARGS ?? "{}");
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const die = () => process.kill(process.pid, "SIGKILL");

// stdin carries control lines: "go" (start barrier) and "release" (end of a hold).
const signals = { go: deferred(), release: deferred() };
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const name = line.trim();
  if (name in signals) signals[name].resolve();
});
function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function sha256Of(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest("hex");
}

/** Same as `fingerprint()` in helpers.ts: path, size, sha256 of every file, sorted. */
async function fingerprint(dir) {
  const rows = [];
  async function walk(rel) {
    const entries = await readdir(rel === "" ? dir : join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const file = join(dir, path);
        rows.push(`${path}\t${(await stat(file)).size}\t${await sha256Of(file)}`);
      } else rows.push(`${path}\t(not a regular file)`);
    }
  }
  await walk("");
  return rows.sort().join("\n");
}

class FolderModel extends TrainableModel {
  source;
  print;
  async saveToFolder(dir) {
    await cp(this.source, dir, { recursive: true });
  }
  async loadFromFolder(dir) {
    this.print = await fingerprint(dir);
  }
  async train() {
    throw new Error("FolderModel does not train");
  }
}

/** What a backend key of the store is (format version 2 layout), for the hooks. */
function kindOf(key) {
  if (/\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\.gz)?$/.test(key)) return "archive";
  if (/\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.manifest$/.test(key)) return "manifest";
  if (/\/index\/sha256\/[0-9a-f]{64}\/[0-9a-z]{9}-[0-9a-f]{16}\.json$/.test(key)) return "index";
  if (/\/refs\/default\/\d{12}\.json$/.test(key)) return "default";
  if (/\/refs\/[^/]+\/\d{12}\.json$/.test(key)) return "ref";
  if (/\/pins\//.test(key)) return "pin";
  return "other";
}

/** Wraps a backend: the crash hook (`killAt`) and the ref-put hold (`holdAt`). */
function hooked(backend) {
  const { killAt, holdAt } = args;
  let held = false;
  return new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property !== "put") return typeof value === "function" ? value.bind(target) : value;
      return async (key, body, options) => {
        const kind = kindOf(key);
        if (killAt === `before-${kind}`) die();
        if (
          holdAt === "ref-put" &&
          !held &&
          key.includes(`/refs/${args.handle}/`) &&
          options?.ifNoneMatch === "*"
        ) {
          held = true;
          print({ event: "held", key });
          await signals.release.promise;
        }
        const info = await target.put(key, body, options);
        if (killAt === `after-${kind}`) die();
        return info;
      };
    },
  });
}

async function openBackend() {
  if (args.backend.kind === "file") return createFileBackend({ root: args.backend.root });
  const { createS3Backend } = await import("@trainable/storage/s3");
  return createS3Backend(args.backend.settings);
}

async function barrier() {
  print({ event: "ready" });
  await signals.go.promise;
}

async function main() {
  const backend = hooked(await openBackend());
  const store = await createCheckpointStore({
    backend,
    workspace: args.workspace,
    fingerprintCache: false,
    ...args.store,
  });
  const pluginInstanceId = args.pluginInstanceId;
  try {
    if (args.op === "save") {
      let expectedDigest = args.expectedDigest;
      if (expectedDigest === "resolve") {
        expectedDigest = await store
          .resolve({ pluginInstanceId, handle: args.handle })
          .then((ref) => ref.digest)
          .catch((error) => {
            if (error?.code === "NOT_FOUND") return null;
            throw error;
          });
        print({ event: "resolved", expectedDigest });
      }
      const model = new FolderModel();
      model.source = args.folder;
      await barrier();
      if (args.holdAt === "before-save") {
        print({ event: "held" });
        await signals.release.promise;
      }
      print({ event: "start", expectedDigest });
      const started = performance.now();
      let killed = false;
      const result = await model.saveRemote({
        store,
        pluginInstanceId,
        handle: args.handle,
        setAsDefault: args.setAsDefault ?? true,
        expectedDigest,
        onProgress: (p) => {
          if (
            args.killAt === "mid-upload" &&
            !killed &&
            p.phase === "upload" &&
            p.total &&
            p.bytes >= p.total / 2
          ) {
            killed = true;
            die();
          }
        },
      });
      print({
        event: "done",
        digest: result.ref.digest,
        archivePath: result.archivePath,
        uploadedBytes: result.uploadedBytes,
        ms: performance.now() - started,
      });
    } else if (args.op === "load") {
      const { createModelCache } = await import("@trainable/cache");
      const cache = createModelCache({
        store,
        diskDir: args.diskDir,
        logger: { warn: (m) => process.stderr.write(`${m}\n`) },
      });
      await barrier();
      print({ event: "start" });
      const model = await FolderModel.loadRemote({
        store,
        pluginInstanceId,
        handle: args.handle,
        cache,
      });
      print({ event: "done", print: model.print, stats: cache.stats() });
      await cache.close();
    } else if (args.op === "prune") {
      await barrier();
      print({ event: "start" });
      const result = await store.prune({ pluginInstanceId, keepLast: args.keepLast });
      print({ event: "done", deleted: result.deleted, kept: result.kept });
    } else if (args.op === "gc") {
      await barrier();
      print({ event: "start" });
      const result = await store.gc({ pluginInstanceId, minAgeMs: args.minAgeMs ?? 0 });
      print({ event: "done", deleted: result.deleted });
    } else {
      throw new Error(`unknown op ${args.op}`);
    }
  } catch (error) {
    print({
      event: "error",
      code: error?.code ?? null,
      name: error?.name ?? null,
      message: String(error?.message ?? error),
    });
    process.exitCode = 1;
  } finally {
    lines.close();
    process.stdin.destroy(); // nothing more to read: do not keep the process alive
    await store.close();
  }
}

await main();
