// Run by the multi-process tests as `node load-in-child.mjs` with CACHE_CHILD_ARGS (JSON).
// Loads one checkpoint through a fresh cache on a shared disk folder and prints one JSON line:
// { pid, version, stats }. With `slowChunkMs`, blob downloads are slowed (and "downloading" is
// printed on the first chunk) so a parent can kill the process mid-download.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pathToFileURL } from "node:url";
import { TrainableModel } from "@trainable/core";
import { createBackend, createCheckpointStore } from "@trainable/storage";

const args = JSON.parse(process.env.CACHE_CHILD_ARGS ?? "{}");
const { createModelCache } = await import(
  pathToFileURL(process.env.TRAINABLE_CACHE_TEST_DIST).href
);

class ChildModel extends TrainableModel {
  version = "";
  async saveToFolder() {}
  async loadFromFolder(dir) {
    this.version = await readFile(join(dir, "version.txt"), "utf8");
  }
  async train() {
    throw new Error("no training here");
  }
}

function slowed(backend, chunkMs) {
  let announced = false;
  return new Proxy(backend, {
    get(target, property) {
      if (property !== "get") {
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (key, options) => {
        const result = await target.get(key, options);
        if (!key.includes("/blobs/") || key.endsWith(".json")) return result;
        const delay = new Transform({
          highWaterMark: 16 * 1024,
          transform(chunk, _encoding, callback) {
            if (!announced) {
              announced = true;
              process.stdout.write("downloading\n");
            }
            setTimeout(() => callback(null, chunk), chunkMs);
          },
        });
        result.body.on("error", (error) => delay.destroy(error));
        return { ...result, body: result.body.pipe(delay) };
      };
    },
  });
}

let backend;
if (args.s3) {
  const { createS3Backend } = await import("@trainable/storage/s3");
  backend = createS3Backend(args.s3);
} else {
  backend = await createBackend(args.url);
}
if (args.slowChunkMs) backend = slowed(backend, args.slowChunkMs);
const store = await createCheckpointStore({ backend, workspace: args.workspace });
const cache = createModelCache({
  store,
  diskDir: args.diskDir,
  verify: args.verify ?? "full",
  logger: { warn: (m) => process.stderr.write(`${m}\n`) },
});
while (Date.now() < (args.startAt ?? 0)) await new Promise((r) => setTimeout(r, 2));
const model = await ChildModel.loadRemote({
  store,
  pluginInstanceId: args.pluginInstanceId,
  handle: args.handle,
  cache,
});
process.stdout.write(
  `${JSON.stringify({ pid: process.pid, version: model.version, stats: cache.stats() })}\n`,
);
await cache.close();
await store.close();
