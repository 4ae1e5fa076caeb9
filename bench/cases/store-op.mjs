// One checkpoint-store operation in a fresh process, for measure():
//   node store-op.mjs <save|load|setdefault> <storeUrl> <handle> [folder|target]
// Prints one JSON line: { op, seconds (in-process), uploadedBytes? }.
import { createCheckpointStore } from "@trainable/storage";

const [op, url, handle, path] = process.argv.slice(2);
const store = await createCheckpointStore({ url, workspace: "bench" });
const t0 = performance.now();
const out = { op };
if (op === "save") {
  const r = await store.save({
    pluginInstanceId: "model",
    handle,
    folder: path,
    setAsDefault: false,
  });
  out.uploadedBytes = r.uploadedBytes;
  out.size = r.ref.size;
} else if (op === "load") {
  const ref = await store.fetch({ pluginInstanceId: "model", handle, target: path });
  out.size = ref.size;
} else if (op === "setdefault") {
  const ref = await store.resolve({ pluginInstanceId: "model", handle });
  await store.setHandle({ pluginInstanceId: "model", handle: "default", ref });
  out.uploadedBytes = 0;
} else {
  throw new Error(`unknown op ${op}`);
}
out.seconds = (performance.now() - t0) / 1000;
await store.close();
console.log(JSON.stringify(out));
