import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RemoteError, ValidationError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKvBackend } from "../src/kv-backend.js";
import { createMapKv } from "../src/kv-store.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kv-backend-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the kv backend", () => {
  it("holds checkpoints: a store on it saves a folder and loads it back", async () => {
    const backend = createKvBackend({ kv: createMapKv() });
    const store = await createCheckpointStore({
      backend,
      workspace: "ws",
      fingerprintCache: false,
    });
    const folder = join(dir, "model");
    await mkdir(join(folder, "weights"), { recursive: true });
    await writeFile(join(folder, "weights", "w.bin"), Buffer.alloc(300_000, 7));
    await writeFile(join(folder, "config.json"), '{"lr":0.1}');
    const saved = await store.save({ pluginInstanceId: "inst", handle: "v1", folder });
    const target = join(dir, "loaded");
    const ref = await store.fetch({ pluginInstanceId: "inst", handle: "v1", target });
    expect(ref.digest).toBe(saved.ref.digest);
    expect(await readFile(join(target, "config.json"), "utf8")).toBe('{"lr":0.1}');
    expect(
      (await readFile(join(target, "weights", "w.bin"))).equals(Buffer.alloc(300_000, 7)),
    ).toBe(true);
  });

  it("maps the store's outage to a retryable RemoteError naming the backend and the key", async () => {
    const kv = createMapKv();
    const backend = createKvBackend({ kv });
    kv.unavailable();
    const error = await backend.head("a/b").catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as RemoteError).retryable).toBe(true);
    expect((error as Error).message).toBe(
      '[storage] [kv] head "a/b" failed: the key-value store does not answer',
    );
    kv.available();
    expect(await backend.head("a/b")).toBeUndefined();
  });

  it("refuses an object over maxObjectBytes, storing nothing", async () => {
    const backend = createKvBackend({ kv: createMapKv(), maxObjectBytes: 10 });
    const error = await backend.put("k", Buffer.alloc(11)).catch((e: unknown) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(await backend.head("k")).toBeUndefined();
  });

  it("checks its options when it is made", () => {
    expect(() => createKvBackend({ kv: {} as never })).toThrow(/kv/);
    expect(() => createKvBackend({ kv: createMapKv(), maxObjectBytes: 0 })).toThrow(
      /maxObjectBytes/,
    );
  });
});
