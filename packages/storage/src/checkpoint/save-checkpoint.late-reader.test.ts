import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createMemoryBackend } from "../backends/memory/memory-backend.js";
import type { RemoteBackend } from "../backends/types.js";
import { createCheckpointStore } from "./create-checkpoint-store.js";

// A backend that, like the file backend under load (mkdir + open of its temp file queued on a
// busy thread pool) or S3 (ensureBucket), starts reading a put's body stream only a while after
// the put was called: no byte of the archive may be lost meanwhile.
describe("saving to a backend that starts reading a body late", () => {
  it("stores the archive once, whole", async () => {
    const inner = createMemoryBackend();
    const backend: RemoteBackend = {
      ...inner,
      list: inner.list.bind(inner),
      async put(key, body, options) {
        if (!(body instanceof Uint8Array)) await sleep(200);
        return inner.put(key, body, options);
      },
    };
    const store = await createCheckpointStore({
      backend,
      workspace: "ws",
      fingerprintCache: false,
    });
    const folder = await mkdtemp(join(tmpdir(), "late-src-"));
    await writeFile(join(folder, "w.bin"), randomBytes(100_000));
    const saved = await store.save({ pluginInstanceId: "late", handle: "v1", folder });
    expect(saved.uploadedBytes).toBe(saved.ref.size);
    const archives: string[] = [];
    for await (const info of inner.list("ws/late/blobs/")) {
      if (info.key.endsWith(".tar")) archives.push(info.key);
    }
    expect(archives).toEqual([saved.ref.archivePath]);
    expect((await inner.head(saved.ref.archivePath))?.size).toBe(saved.ref.size);
  });
});
