import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { createFileBackend } from "../src/backends/file/file-backend.js";
import { createMemoryBackend } from "../src/backends/memory/memory-backend.js";
import { createS3Backend } from "../src/backends/s3/s3-backend.js";
import type { RemoteBackend } from "../src/backends/types.js";
import { createCheckpointStore } from "../src/checkpoint/create-checkpoint-store.js";

function s3Backend(): RemoteBackend {
  const s3 = getS3TestConfig();
  return createS3Backend({
    bucket: s3.bucket,
    prefix: `${s3.prefix}instances-${randomUUID()}/`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

/** A backend with the five required methods only (not made with `defineBackend`). */
function withoutListPrefixes(inner: RemoteBackend): RemoteBackend {
  return {
    name: inner.name,
    description: inner.description,
    capabilities: inner.capabilities,
    put: (key, body, options) => inner.put(key, body, options),
    get: (key, options) => inner.get(key, options),
    head: (key, options) => inner.head(key, options),
    list: (prefix, options) => inner.list(prefix, options),
    delete: (key, options) => inner.delete(key, options),
  };
}

const backends: { name: string; create: (root: string) => RemoteBackend }[] = [
  { name: "memory", create: () => createMemoryBackend() },
  { name: "file", create: (root) => createFileBackend({ root: join(root, "store") }) },
  { name: "s3", create: () => s3Backend() },
  { name: "memory without listPrefixes", create: () => withoutListPrefixes(createMemoryBackend()) },
];

describe.each(backends)("store.listInstances on $name", ({ create }) => {
  let root: string;
  let backend: RemoteBackend;
  let folder: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "trainable-instances-"));
    backend = create(root);
    folder = join(root, "model");
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder);
    await writeFile(join(folder, "weights.txt"), "w");
  });
  afterAll(async () => {
    await backend.close?.();
    await rm(root, { recursive: true, force: true });
  });
  const open = (workspace: string) =>
    createCheckpointStore({ backend, workspace, fingerprintCache: false });

  it("is empty on an empty store", async () => {
    const store = await open("empty-ws");
    expect(await store.listInstances()).toEqual([]);
  });

  it("lists the instances with a checkpoint, sorted; not leftovers, deleted handles, bad names or other workspaces", async () => {
    const store = await open("team-a");
    const save = (pluginInstanceId: string, handle: string) =>
      store.save({ pluginInstanceId, handle, folder });
    // "b-c/" lists before "b/" (as their keys do); the answer is sorted by id.
    for (const id of ["b-c", "b", "alpha"]) await save(id, "v1");
    // Every handle deleted: no checkpoint left.
    await save("beta", "h1");
    await store.delete({ pluginInstanceId: "beta", handle: "h1" });
    await store.delete({ pluginInstanceId: "beta", handle: "default" });
    // The first handle deleted, a later one live.
    await save("gamma", "zz");
    await store.delete({ pluginInstanceId: "gamma", handle: "default" });
    // Only leftover blobs and pins (a killed save), or not instances at all.
    await backend.put("team-a/delta/blobs/0m3x1k2a9-0123456789abcdef.tar", Buffer.from("x"));
    await backend.put(
      "team-a/delta/pins/0m3x1k2a9-0123456789abcdef/0123456789abcdef.json",
      Buffer.from("{}"),
    );
    await backend.put("team-a/-bad/refs/default/000000000000.json", Buffer.from("{}"));
    await backend.put("team-a/stray.json", Buffer.from("{}"));
    await (await open("team-b")).save({ pluginInstanceId: "zeta", handle: "v1", folder });
    expect(await store.listInstances()).toEqual(["alpha", "b", "b-c", "gamma"]);
    expect(await (await open("team-b")).listInstances()).toEqual(["zeta"]);
    // A deleted handle saved again brings its instance back.
    await save("beta", "h1");
    expect(await store.listInstances()).toEqual(["alpha", "b", "b-c", "beta", "gamma"]);
  });

  it("counts an instance whose newest ref is malformed (its page reports it)", async () => {
    const store = await open("team-c");
    await backend.put("team-c/broken/refs/default/000000000000.json", Buffer.from("not json"));
    expect(await store.listInstances()).toEqual(["broken"]);
  });

  it("checks its options", async () => {
    const store = await open("team-d");
    const error = await store.listInstances(null as never).catch((e) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as ValidationError).message).toContain("options");
    const aborted = await store.listInstances({ signal: AbortSignal.abort() }).catch((e) => e);
    expect((aborted as Error).name).toBe("CancelledError");
  });
});
