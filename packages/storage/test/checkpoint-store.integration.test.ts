import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CancelledError,
  type CheckpointRef,
  ConflictError,
  IntegrityError,
  type InvocableResponse,
  NotFoundError,
  RemoteError,
  TrainableModel,
  type TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { craftTar, dirEntry, fileEntry } from "../src/archive/__fixtures__/craft-tar.js";
import { manifestBytes, manifestOf } from "../src/archive/__fixtures__/packed.js";
import { createFileBackend } from "../src/backends/file/file-backend.js";
import { createMemoryBackend } from "../src/backends/memory/memory-backend.js";
import { createS3Backend } from "../src/backends/s3/s3-backend.js";
import type { RemoteBackend } from "../src/backends/types.js";
import { controlled } from "../src/checkpoint/__fixtures__/controlled-backend.js";
import {
  type CreateCheckpointStoreOptions,
  createCheckpointStore,
} from "../src/checkpoint/create-checkpoint-store.js";

async function folderWith(files: Record<string, string | Buffer | null>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ckpt-src-"));
  for (const [path, content] of Object.entries(files)) {
    if (content === null) {
      await mkdir(join(dir, path), { recursive: true });
      continue;
    }
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  // Past the filesystem clock's tick: a save then remembers these files as settled.
  await sleep(30);
  return dir;
}

async function readTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out[full.slice(dir.length + 1)] = await readFile(full, "utf8");
  }
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function keysUnder(backend: RemoteBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys;
}

class NoteModel extends TrainableModel<{ prefix: string }> {
  note = "";
  async saveToFolder(dir: string) {
    await writeFile(join(dir, "note.txt"), this.note);
    await mkdir(join(dir, "nested"));
    await writeFile(join(dir, "nested", "weights.bin"), Buffer.alloc(1024, 7));
  }
  async loadFromFolder(dir: string) {
    this.note = `${this.config?.prefix ?? ""}${await readFile(join(dir, "note.txt"), "utf8")}`;
  }
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return { status: { state: "succeeded" } };
  }
}

function s3Backend(label: string): RemoteBackend {
  const s3 = getS3TestConfig();
  return createS3Backend({
    bucket: s3.bucket,
    prefix: `${s3.prefix}${label}-${randomUUID()}/`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

const backends: { name: string; create: () => Promise<RemoteBackend> }[] = [
  { name: "memory", create: async () => createMemoryBackend() },
  {
    name: "file",
    create: async () => createFileBackend({ root: await mkdtemp(join(tmpdir(), "ckpt-file-")) }),
  },
  { name: "s3", create: async () => s3Backend("store") },
];

describe.each(backends)("checkpoint store on $name", ({ name, create }) => {
  let backend: RemoteBackend;
  let work: string;
  beforeAll(async () => {
    backend = await create();
    work = await mkdtemp(join(tmpdir(), "ckpt-work-"));
  });
  afterAll(async () => {
    await backend.close?.();
    await rm(work, { recursive: true, force: true });
  });
  const out = (label: string) => join(work, `${label}-${randomUUID()}`);
  const instance = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
  const storeFor = (
    extra: Partial<CreateCheckpointStoreOptions> = {},
    on: RemoteBackend = backend,
  ) =>
    createCheckpointStore({
      backend: on,
      workspace: "ws",
      fingerprintCache: join(work, "fp"),
      ...extra,
    });

  it("keeps the original's semantics: V1 + default, a second save moves default, V1 stays", async () => {
    const store = await storeFor();
    const id = instance("inst");
    const first = await folderWith({ "a.txt": "first", "dir/b.json": "{}" });
    const r1 = await store.save({ pluginInstanceId: id, handle: "V1", folder: first });
    expect(r1.defaultRef?.digest).toBe(r1.ref.digest);
    expect(r1.uploadedBytes).toBe(r1.ref.size);

    const [v1, def] = [out("v1"), out("default")];
    await store.fetch({ pluginInstanceId: id, handle: "V1", target: v1 });
    await store.fetch({ pluginInstanceId: id, target: def });
    expect(await readTree(v1)).toEqual({ "a.txt": "first", "dir/b.json": "{}" });
    expect(await readTree(def)).toEqual(await readTree(v1));

    const r2 = await store.save({
      pluginInstanceId: id,
      handle: "V2",
      folder: await folderWith({ "a.txt": "second" }),
    });
    expect(r2.ref.digest).not.toBe(r1.ref.digest);
    const def2 = out("default2");
    await store.fetch({ pluginInstanceId: id, target: def2 });
    expect(await readTree(def2)).toEqual({ "a.txt": "second" });
    const v1again = out("v1again");
    await store.fetch({ pluginInstanceId: id, handle: "V1", target: v1again });
    expect(await readTree(v1again)).toEqual({ "a.txt": "first", "dir/b.json": "{}" });

    expect((await store.list({ pluginInstanceId: id })).map((r) => r.handle)).toEqual([
      "V1",
      "V2",
      "default",
    ]);
    const history = await store.history({ pluginInstanceId: id, handle: "default" });
    expect(history.map((r) => r.digest)).toEqual([r2.ref.digest, r1.ref.digest]);
    expect(history[0]?.parent).toBe(r1.ref.digest);
    expect(await store.readManifest({ pluginInstanceId: id, handle: "V1" })).toEqual({
      files: [
        { path: "a.txt", size: 5, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
        { path: "dir/b.json", size: 2, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      ],
      directories: ["dir"],
    });
  });

  it("a ref is a small pointer whatever the folder: < 1 KiB for 20,000 files; saves, loads, lists, prunes, collects", async () => {
    const store = await storeFor({ refHistory: 2 });
    const id = instance("many");
    const files: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) files[`shard-${i % 50}/f-${i}.txt`] = `file ${i}`;
    const folder = await folderWith(files);
    const saved = await store.save({ pluginInstanceId: id, handle: "big", folder });
    expect(saved.ref.fileCount).toBe(20_000);
    expect(saved.ref.directoryCount).toBe(50);
    for (const handle of ["big", "default"]) {
      for await (const info of backend.list(`ws/${id}/refs/${handle}/`)) {
        expect(info.size, info.key).toBeLessThan(1024);
      }
    }
    const target = out("many");
    await store.fetch({ pluginInstanceId: id, handle: "big", target });
    expect((await readdir(join(target, "shard-7"))).length).toBe(400);
    expect(await readFile(join(target, "shard-49/f-19999.txt"), "utf8")).toBe("file 19999");
    await store.save({
      pluginInstanceId: id,
      handle: "small",
      folder: await folderWith({ x: "x" }),
    });
    expect((await store.list({ pluginInstanceId: id })).map((r) => r.handle)).toEqual([
      "big",
      "default",
      "small",
    ]);
    expect((await store.prune({ pluginInstanceId: id, keepLast: 0 })).deleted).toEqual([
      "big",
      "small",
    ]);
    // `default` moved to `small`, then its history (2 versions) still names `big`: one more save trims it.
    await store.save({
      pluginInstanceId: id,
      handle: "last",
      folder: await folderWith({ y: "y" }),
    });
    await store.save({
      pluginInstanceId: id,
      handle: "last",
      folder: await folderWith({ z: "z" }),
    });
    const gc = await store.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc.deleted).toContain(saved.ref.archivePath);
    expect(await keysUnder(backend, saved.ref.archivePath)).toEqual([]);
  });

  it("re-saving an unchanged folder and setting a handle upload nothing (counted at the backend)", async () => {
    const rec = controlled(backend);
    const store = await storeFor({}, rec.backend);
    const id = instance("dedupe");
    const folder = await folderWith({ "w.bin": randomBytes(300_000), "d/e.txt": "e" });
    const first = await store.save({
      pluginInstanceId: id,
      handle: "a",
      folder,
      setAsDefault: false,
    });
    expect(rec.bytesPut((k) => k.includes("/blobs/"))).toBeGreaterThan(300_000);
    rec.reset();
    const again = await store.save({
      pluginInstanceId: id,
      handle: "b",
      folder,
      setAsDefault: false,
    });
    expect(again.uploadedBytes).toBe(0);
    expect(again.ref.archivePath).toBe(first.ref.archivePath);
    expect(rec.calls.filter((c) => c.op === "put" && /\/(blobs|index)\//.test(c.key))).toEqual([]);
    expect(rec.calls.filter((c) => c.op === "get" && c.key.includes("/blobs/"))).toEqual([]);
    rec.reset();
    await store.setHandle({ pluginInstanceId: id, handle: "default", ref: first.ref });
    expect(rec.calls.filter((c) => c.op === "put" && /\/(blobs|index)\//.test(c.key))).toEqual([]);
    expect(rec.bytesPut()).toBeLessThan(2048);
    expect((await store.resolve({ pluginInstanceId: id })).digest).toBe(first.ref.digest);
    // One archive for the three handles.
    expect(
      (await keysUnder(backend, `ws/${id}/blobs/`)).filter((k) => k.endsWith(".tar")),
    ).toHaveLength(1);
    // A changed file is noticed (no stale reuse), though its size and times look alike.
    await writeFile(join(folder, "d/e.txt"), "E");
    const changed = await store.save({
      pluginInstanceId: id,
      handle: "c",
      folder,
      setAsDefault: false,
    });
    expect(changed.ref.digest).not.toBe(first.ref.digest);
    expect(changed.uploadedBytes).toBeGreaterThan(0);
  });

  it("two saves of the same new folder keep one stored copy", async () => {
    const store = await storeFor({ fingerprintCache: false });
    const id = instance("twins");
    const folder = await folderWith({ "w.bin": randomBytes(100_000) });
    const [a, b] = await Promise.all([
      store.save({ pluginInstanceId: id, handle: "a", folder, setAsDefault: false }),
      store.save({ pluginInstanceId: id, handle: "b", folder, setAsDefault: false }),
    ]);
    expect(a.ref.digest).toBe(b.ref.digest);
    const c = await store.save({ pluginInstanceId: id, handle: "c", folder, setAsDefault: false });
    expect(c.ref.archivePath).toBe(
      a.ref.archivePath === b.ref.archivePath ? a.ref.archivePath : c.ref.archivePath,
    );
    await store.gc({ pluginInstanceId: id, minAgeMs: 0 });
    for (const handle of ["a", "b", "c"])
      await store.fetch({ pluginInstanceId: id, handle, target: out(handle) });
    const archives = (await keysUnder(backend, `ws/${id}/blobs/`)).filter((k) =>
      k.endsWith(".tar"),
    );
    expect(archives.length).toBeLessThanOrEqual(2);
  });

  it("a folder that differs only by an empty directory is another checkpoint, and both load", async () => {
    const store = await storeFor();
    const id = instance("dirs");
    const a = await store.save({
      pluginInstanceId: id,
      handle: "a",
      folder: await folderWith({ "x.bin": "x" }),
    });
    const b = await store.save({
      pluginInstanceId: id,
      handle: "b",
      folder: await folderWith({ "x.bin": "x", logs: null }),
    });
    expect(b.ref.digest).not.toBe(a.ref.digest);
    const target = out("with-logs");
    await store.fetch({ pluginInstanceId: id, target });
    expect((await readdir(target)).sort()).toEqual(["logs", "x.bin"]);
    const plain = out("plain");
    await store.fetch({ pluginInstanceId: id, handle: "a", target: plain });
    expect(await readdir(plain)).toEqual(["x.bin"]);
  });

  it("records metadata and refuses metadata that would make a ref large", async () => {
    const store = await storeFor({ packageVersion: "9.9.9" });
    const id = instance("meta");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "x.txt": "x" }),
      metadata: {
        trainPluginInput: { pluginInstance: id, trainingEpochs: 2 },
        trainingResults: { f1: 0.97 },
      },
    });
    const shown = await store.resolve({ pluginInstanceId: id, handle: "v1" });
    expect(shown).toEqual(ref);
    expect(shown).toMatchObject({
      formatVersion: 2,
      fileCount: 1,
      directoryCount: 0,
      totalBytes: 1,
    });
    expect(shown.metadata).toMatchObject({
      packageVersion: "9.9.9",
      trainingResults: { f1: 0.97 },
    });
    const rec = controlled(backend);
    const recStore = await storeFor({}, rec.backend);
    rec.reset();
    const error = await recStore
      .save({
        pluginInstanceId: id,
        handle: "v2",
        folder: await folderWith({ y: "y" }),
        metadata: { notes: "n".repeat(40_000) },
      })
      .catch((e) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/metadata.*over the limit of 32768/);
    expect(rec.calls).toEqual([]);
  });

  it("compare-and-swap: a stale expected digest is a ConflictError and changes nothing; racing writers → one wins", async () => {
    const store = await storeFor();
    const id = instance("cas");
    const a = await store.save({
      pluginInstanceId: id,
      handle: "main",
      folder: await folderWith({ f: "a" }),
      setAsDefault: false,
      expectedDigest: null,
    });
    await expect(
      store.save({
        pluginInstanceId: id,
        handle: "main",
        folder: await folderWith({ f: "b" }),
        expectedDigest: null,
      }),
    ).rejects.toSatisfy(ConflictError.isInstance);
    expect((await store.resolve({ pluginInstanceId: id, handle: "main" })).digest).toBe(
      a.ref.digest,
    );
    const folders = await Promise.all(
      Array.from({ length: 8 }, (_, i) => folderWith({ f: `writer-${i}` })),
    );
    const results = await Promise.allSettled(
      folders.map((folder) =>
        store.save({
          pluginInstanceId: id,
          handle: "main",
          folder,
          setAsDefault: false,
          expectedDigest: a.ref.digest,
        }),
      ),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    for (const l of results.filter((r) => r.status === "rejected")) {
      expect(ConflictError.isInstance((l as PromiseRejectedResult).reason)).toBe(true);
    }
    expect((await store.resolve({ pluginInstanceId: id, handle: "main" })).digest).toBe(
      (winners[0] as PromiseFulfilledResult<{ ref: CheckpointRef }>).value.ref.digest,
    );
  });

  it("delete with expectedDigest: a handle moved since is a ConflictError and stays; the current digest deletes", async () => {
    const store = await storeFor();
    const id = instance("cas-delete");
    const a = await store.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ f: "a" }),
      setAsDefault: false,
    });
    const b = await store.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ f: "b" }),
      setAsDefault: false,
    });
    await expect(
      store.delete({ pluginInstanceId: id, handle: "h", expectedDigest: a.ref.digest }),
    ).rejects.toSatisfy(ConflictError.isInstance);
    expect((await store.resolve({ pluginInstanceId: id, handle: "h" })).digest).toBe(b.ref.digest);
    await store.delete({ pluginInstanceId: id, handle: "h", expectedDigest: b.ref.digest });
    await expect(store.resolve({ pluginInstanceId: id, handle: "h" })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
  });

  it("compare-and-swap holds for a writer delayed past trimmed history, a delete and a re-save", async () => {
    const id = instance("stale");
    const fast = await storeFor({ refHistory: 1 });
    const d0 = await fast.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ f: "d0" }),
      setAsDefault: false,
    });
    for (const scenario of ["trimmed", "deleted", "delete-races"] as const) {
      const rec = controlled(backend);
      const slow = await storeFor({ refHistory: 1 }, rec.backend);
      const current = (await fast.resolve({ pluginInstanceId: id, handle: "h" })).digest;
      // The slow writer passes its check, then stalls right before its create-only write.
      const gate = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
      const stale = slow
        .save({
          pluginInstanceId: id,
          handle: "h",
          folder: await folderWith({ f: `stale-${scenario}` }),
          setAsDefault: false,
          expectedDigest: current,
        })
        .then(
          () => "succeeded",
          (e) => e,
        );
      await gate.reached;
      let expected: string | null;
      if (scenario === "trimmed") {
        for (const v of ["b", "c", "d"])
          await fast.save({
            pluginInstanceId: id,
            handle: "h",
            folder: await folderWith({ f: `${scenario}-${v}` }),
            setAsDefault: false,
          });
        expected = (await fast.resolve({ pluginInstanceId: id, handle: "h" })).digest;
      } else if (scenario === "deleted") {
        await fast.delete({ pluginInstanceId: id, handle: "h" });
        await fast.save({
          pluginInstanceId: id,
          handle: "h",
          folder: await folderWith({ f: "resaved" }),
          setAsDefault: false,
        });
        expected = (await fast.resolve({ pluginInstanceId: id, handle: "h" })).digest;
      } else {
        await fast.delete({ pluginInstanceId: id, handle: "h" });
        expected = null;
      }
      gate.open();
      const outcome = await stale;
      expect(ConflictError.isInstance(outcome), `${scenario}: ${outcome}`).toBe(true);
      const now = await fast.resolve({ pluginInstanceId: id, handle: "h" }).then(
        (r) => r.digest,
        () => null,
      );
      expect(now, scenario).toBe(expected);
      if (expected === null)
        await fast.save({
          pluginInstanceId: id,
          handle: "h",
          folder: await folderWith({ f: "back" }),
          setAsDefault: false,
        });
    }
    // A plain (no expected digest) delayed writer is never silently invisible: when it returns, it is current.
    const rec = controlled(backend);
    const slow = await storeFor({ refHistory: 1 }, rec.backend);
    const gate = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
    const plain = slow.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ f: "plain-late" }),
      setAsDefault: false,
    });
    await gate.reached;
    for (const v of ["p", "q"])
      await fast.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ f: v }),
        setAsDefault: false,
      });
    gate.open();
    const late = await plain;
    expect((await fast.resolve({ pluginInstanceId: id, handle: "h" })).digest).toBe(
      late.ref.digest,
    );
    expect(d0.ref.digest).not.toBe(late.ref.digest);
  });

  it("rejects invalid ids and handles before any I/O, naming the field", async () => {
    const rec = controlled(backend);
    const store = await storeFor({}, rec.backend);
    rec.reset();
    const folder = await folderWith({ f: "x" });
    for (const bad of ["../x", "", "a/b", "x".repeat(200), ".hidden", "a\0b"]) {
      await expect(store.save({ pluginInstanceId: bad, handle: "v1", folder })).rejects.toThrow(
        /pluginInstanceId/,
      );
      await expect(store.save({ pluginInstanceId: "ok", handle: bad, folder })).rejects.toThrow(
        /handle/,
      );
      await expect(store.resolve({ pluginInstanceId: "ok", handle: bad })).rejects.toSatisfy(
        ValidationError.isInstance,
      );
      await expect(store.list({ pluginInstanceId: bad })).rejects.toSatisfy(
        ValidationError.isInstance,
      );
      await expect(store.delete({ pluginInstanceId: "ok", handle: bad })).rejects.toSatisfy(
        ValidationError.isInstance,
      );
    }
    await expect(createCheckpointStore({ backend, workspace: "../etc" })).rejects.toThrow(
      /workspace/,
    );
    expect(rec.calls).toEqual([]);
  });

  it("a missing handle is a NotFoundError naming scope and handle", async () => {
    const store = await storeFor();
    const err = await store.resolve({ pluginInstanceId: "nobody", handle: "v9" }).catch((e) => e);
    expect(NotFoundError.isInstance(err)).toBe(true);
    expect(err.message).toContain('handle "v9" of ws/nobody');
    const target = out("missing");
    await expect(store.fetch({ pluginInstanceId: "nobody", target })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
    expect(existsSync(target)).toBe(false);
  });

  it("a damaged, truncated or missing archive or manifest and a malformed ref are IntegrityErrors; nothing is extracted", async () => {
    const store = await storeFor();
    const id = instance("corrupt");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.bin": randomBytes(50_000) }),
    });
    const manifestKey = ref.archivePath.replace(/\.tar$/, ".manifest");
    const original = await readAll((await backend.get(ref.archivePath)).body);
    const manifest = await readAll((await backend.get(manifestKey)).body);
    const flipped = Buffer.from(original);
    flipped[1024] = (flipped[1024] ?? 0) ^ 0xff;
    const replace = async (key: string, bytes?: Buffer) => {
      await backend.delete(key);
      if (bytes) await backend.put(key, bytes);
    };
    const cases: [string, () => Promise<void>, RegExp][] = [
      ["flipped byte", () => replace(ref.archivePath, flipped), /has sha256/],
      [
        "truncated",
        () => replace(ref.archivePath, original.subarray(0, original.length - 700)),
        /it is \d+ bytes, its ref says \d+/,
      ],
      ["deleted", () => replace(ref.archivePath), /is missing/],
      [
        "manifest changed",
        () =>
          replace(manifestKey, Buffer.from(manifest.toString().replace(/"size":\d+/, '"size":1'))),
        /manifest .* is damaged/,
      ],
      ["manifest deleted", () => replace(manifestKey), /manifest .* is missing/],
    ];
    for (const [label, corrupt, message] of cases) {
      await corrupt();
      const target = out(label.replace(" ", "-"));
      const err = await store.fetch({ pluginInstanceId: id, handle: "v1", target }).catch((e) => e);
      expect(IntegrityError.isInstance(err), `${label}: ${err}`).toBe(true);
      expect(err.message, label).toMatch(message);
      expect(existsSync(target)).toBe(false);
      await replace(ref.archivePath, original);
      await replace(manifestKey, manifest);
    }
    // A malformed newer version of the ref.
    const refKey = `ws/${id}/refs/v1/999999999998.json`;
    await backend.put(refKey, Buffer.from('{"formatVersion":2,"handle":"v1","digest":"nope"}'));
    const err = await store.resolve({ pluginInstanceId: id, handle: "v1" }).catch((e) => e);
    expect(IntegrityError.isInstance(err)).toBe(true);
    expect(err.message).toContain(refKey);
    expect(err.message).toContain("digest");
    // A plain save repairs it (a malformed newest version does not block an overwrite).
    const repaired = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ ok: "1" }),
    });
    expect((await store.resolve({ pluginInstanceId: id, handle: "v1" })).digest).toBe(
      repaired.ref.digest,
    );
  });

  it("exact extraction: a planted archive with extra directories (stray/, stray/deeper/) is refused, nothing created", async () => {
    const store = await storeFor();
    const id = instance("stray");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "good.txt": "good" }),
    });
    // Someone with write access to the bucket plants an archive whose manifest lists no directory.
    const evil = craftTar(
      fileEntry("good.txt", "good"),
      dirEntry("stray"),
      dirEntry("stray/deeper"),
    );
    await backend.delete(ref.archivePath);
    await backend.put(ref.archivePath, evil);
    await backend.put(
      `ws/${id}/refs/v1/999999999998.json`,
      Buffer.from(JSON.stringify({ ...ref, size: evil.length })),
    );
    const target = out("stray");
    const err = await store.fetch({ pluginInstanceId: id, handle: "v1", target }).catch((e) => e);
    expect(IntegrityError.isInstance(err), String(err)).toBe(true);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(work, "stray"))).toBe(false);
  });

  it("a load can be cancelled mid-download: CancelledError, nothing left", async () => {
    const rec = controlled(backend);
    const store = await storeFor({}, rec.backend);
    const id = instance("abort");
    await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.bin": randomBytes(12 * 1024 * 1024) }),
    });
    const controller = new AbortController();
    const target = out("abort");
    const loading = store.fetch({
      pluginInstanceId: id,
      handle: "v1",
      target,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytes > 1024 * 1024) controller.abort(new Error("stop"));
      },
    });
    const err = await loading.catch((e) => e);
    expect(CancelledError.isInstance(err), String(err)).toBe(true);
    expect(existsSync(target)).toBe(false);
  });

  it("a dropped download resumes from the byte it stopped at", async () => {
    const id = instance("resume");
    const store = await storeFor();
    const data = randomBytes(3 * 1024 * 1024);
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.bin": data }),
    });
    const ranges: Array<number | undefined> = [];
    let dropped = false;
    const flaky: RemoteBackend = {
      ...backend,
      list: backend.list.bind(backend),
      async get(key, options) {
        const got = await backend.get(key, options);
        if (key !== ref.archivePath) return got;
        ranges.push(options?.range?.start);
        if (dropped) return got;
        dropped = true;
        let sent = 0;
        const body = Readable.from(
          (async function* () {
            for await (const chunk of got.body) {
              const c = chunk as Buffer;
              if (sent + c.length > 1_000_000) {
                yield c.subarray(0, 1_000_000 - sent);
                got.body.destroy();
                throw new RemoteError("[test] connection reset", { retryable: true });
              }
              sent += c.length;
              yield c;
            }
          })(),
        );
        return { body, info: got.info };
      },
    };
    const target = out("resume");
    const reader = await storeFor({}, flaky);
    await reader.fetch({ pluginInstanceId: id, handle: "v1", target });
    expect(ranges).toEqual([undefined, 1_000_000]);
    expect((await readFile(join(target, "w.bin"))).equals(data)).toBe(true);
  });

  it("a blob that fails its checks is never reused: re-saves upload again; verify finds and quarantines it", async () => {
    const store = await storeFor();
    const id = instance("trust");
    const folder = await folderWith({ "w.bin": randomBytes(200_000) });
    const first = await store.save({ pluginInstanceId: id, handle: "v1", folder });
    const original = await readAll((await backend.get(first.ref.archivePath)).body);
    // (a) Truncated: its size no longer matches, so a re-save does not reuse it.
    await backend.delete(first.ref.archivePath);
    await backend.put(first.ref.archivePath, original.subarray(0, 1000));
    const second = await store.save({ pluginInstanceId: id, handle: "v2", folder });
    expect(second.uploadedBytes).toBe(original.length);
    expect(second.ref.archivePath).not.toBe(first.ref.archivePath);
    await store.fetch({ pluginInstanceId: id, handle: "v2", target: out("v2") });
    // (b) Same size, other bytes: the load that meets it quarantines it, the next save re-uploads.
    const bad = Buffer.from(await readAll((await backend.get(second.ref.archivePath)).body));
    bad[5000] = (bad[5000] ?? 0) ^ 1;
    await backend.delete(second.ref.archivePath);
    await backend.put(second.ref.archivePath, bad);
    await expect(
      store.fetch({ pluginInstanceId: id, handle: "v2", target: out("bad") }),
    ).rejects.toSatisfy(IntegrityError.isInstance);
    const third = await store.save({ pluginInstanceId: id, handle: "v3", folder });
    expect(third.uploadedBytes).toBe(original.length);
    await store.fetch({ pluginInstanceId: id, handle: "v3", target: out("v3") });
    // (c) verify re-hashes every blob, names the handles that still point at bad ones.
    const report = await store.verify({ pluginInstanceId: id });
    expect(report.checked).toBe(3);
    expect(report.ok).toBe(1);
    expect(report.bad.map((b) => [b.archivePath, b.handles])).toEqual(
      expect.arrayContaining([
        [first.ref.archivePath, ["v1"]],
        [second.ref.archivePath, ["v2"]],
      ]),
    );
    const repaired = await store.verify({ pluginInstanceId: id, repair: true });
    expect(repaired.bad.every((b) => b.quarantined)).toBe(true);
    expect(await keysUnder(backend, `ws/${id}/quarantine/`)).toHaveLength(2);
  });

  it("gc never leaves a dangling ref, even when its deletes land late", async () => {
    const id = instance("fence");
    const plain = await storeFor();
    const folder = await folderWith({ "w.bin": randomBytes(100_000) });
    // An orphan: saved, then its only handle deleted.
    const orphan = await plain.save({
      pluginInstanceId: id,
      handle: "old",
      folder,
      setAsDefault: false,
    });
    await plain.delete({ pluginInstanceId: id, handle: "old" });

    // (1) The collection's delete of the orphan lands late; meanwhile a save of the same folder
    // (known unchanged: it would reuse the orphan) runs. It must not reference the doomed blob.
    const gcSide = controlled(backend);
    const gcStore = await storeFor({}, gcSide.backend);
    const late = gcSide.delayDelete((k) => k === orphan.ref.archivePath);
    const gc = await gcStore.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc.deleted).toEqual([orphan.ref.archivePath]);
    const resaved = await plain.save({
      pluginInstanceId: id,
      handle: "new",
      folder,
      setAsDefault: false,
    });
    expect(resaved.ref.archivePath).not.toBe(orphan.ref.archivePath);
    expect(resaved.uploadedBytes).toBeGreaterThan(0);
    late.open();
    await gcSide.landed();
    await plain.fetch({ pluginInstanceId: id, handle: "new", target: out("after-late-delete") });

    // (2) A save that pinned a blob before the collection doomed it: the collection sees the pin.
    await plain.delete({ pluginInstanceId: id, handle: "new" });
    const saveSide = controlled(backend);
    const saver = await storeFor({}, saveSide.backend);
    const beforeRefs = saveSide.hold("put", (k) => k.startsWith(`ws/${id}/refs/again/`));
    const saving = saver.save({
      pluginInstanceId: id,
      handle: "again",
      folder,
      setAsDefault: false,
    });
    await beforeRefs.reached;
    const gc2 = await plain.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc2.deleted).toEqual([]);
    beforeRefs.open();
    const again = await saving;
    expect(again.ref.archivePath).toBe(resaved.ref.archivePath);
    await plain.fetch({ pluginInstanceId: id, handle: "again", target: out("pinned") });

    // (3) A save frozen past its pin's lifetime (its pin refreshes stopped): the collection
    // dooms and deletes its blob late; the save notices after writing its ref and stores it again.
    await plain.delete({ pluginInstanceId: id, handle: "again" });
    const frozenSide = controlled(backend);
    const frozen = await storeFor({ pinTtlMs: 200 }, frozenSide.backend);
    const frozenRefs = frozenSide.hold("put", (k) => k.startsWith(`ws/${id}/refs/frozen/`));
    // Its pin is written once; its refreshes never land (a frozen process's timers do not run).
    let pinWrites = 0;
    frozenSide.drop("put", (k) => k.includes(`/pins/`) && ++pinWrites > 1);
    const frozenSave = frozen.save({
      pluginInstanceId: id,
      handle: "frozen",
      folder: await folderWith({ "n.bin": randomBytes(50_000) }),
      setAsDefault: false,
    });
    await frozenRefs.reached;
    await sleep(400); // its pin is stale now: the store clock says so
    const collector = controlled(backend);
    const collectorStore = await storeFor({ pinTtlMs: 200 }, collector.backend);
    const lateDelete = collector.delayDelete((k) => k.endsWith(".tar"));
    const gc3 = await collectorStore.gc({ pluginInstanceId: id, minAgeMs: 0 });
    // The frozen save's blob was taken for abandoned: doomed and deleted (late).
    const frozenFirst = frozenSide.calls.find((c) => c.op === "put" && c.key.endsWith(".tar"))?.key;
    expect(gc3.deleted).toContain(frozenFirst);
    frozenRefs.open();
    const frozenResult = await frozenSave;
    lateDelete.open();
    await collector.landed();
    expect(frozenResult.ref.archivePath).not.toBe(frozenFirst);
    expect(frozenResult.uploadedBytes).toBeGreaterThan(0);
    await plain.fetch({ pluginInstanceId: id, handle: "frozen", target: out("frozen") });
    // Nothing any handle names was lost.
    for (const ref of await plain.list({ pluginInstanceId: id })) {
      await plain.fetch({
        pluginInstanceId: id,
        handle: ref.handle,
        target: out(`final-${ref.handle}`),
      });
    }
  });

  describe("a save frozen past its pin lifetime while a collection deletes its blob", () => {
    const TTL = 500;
    /** The first version key of a handle (`seq` 0). */
    const firstVersionKey = (id: string, handle: string) =>
      `ws/${id}/refs/${handle}/999999999999.json`;
    const versionSizes = async (id: string, handle: string) => {
      const sizes: number[] = [];
      for await (const info of backend.list(`ws/${id}/refs/${handle}/`)) sizes.push(info.size);
      return sizes;
    };
    const readRefAt = async (key: string) =>
      JSON.parse((await readAll((await backend.get(key)).body)).toString("utf8")) as CheckpointRef;
    /** Every version `history()` returns names an archive that is stored. */
    const missingInHistory = async (
      store: Awaited<ReturnType<typeof storeFor>>,
      id: string,
      handle: string,
    ) => {
      const missing: string[] = [];
      for (const ref of await store.history({ pluginInstanceId: id, handle })) {
        if ((await backend.head(ref.archivePath)) === undefined) missing.push(ref.archivePath);
      }
      return missing;
    };

    /**
     * A saver whose process freezes on demand: from `frozen = true` on, its pin refreshes never
     * land (a frozen process's timers do not run); the first write of each pin does.
     */
    async function frozenSaver(wrap: (b: RemoteBackend) => RemoteBackend = (b) => b) {
      const rec = controlled(wrap(backend));
      const seen = new Set<string>();
      const pins = { frozen: false };
      rec.drop("put", (k) => {
        if (!k.includes("/pins/")) return false;
        if (!seen.has(k)) {
          seen.add(k);
          return false;
        }
        return pins.frozen;
      });
      const saver = await storeFor({ fingerprintCache: false, pinTtlMs: TTL }, rec.backend);
      return { rec, pins, saver };
    }

    /** Freezes the saver's pins, waits past their lifetime, collects: the saver's blob goes. */
    async function collectFrozen(
      rec: ReturnType<typeof controlled>,
      pins: { frozen: boolean },
      id: string,
    ) {
      pins.frozen = true;
      await sleep(2.5 * TTL); // its pin is stale now: the store clock says so
      const collector = await storeFor({ fingerprintCache: false, pinTtlMs: TTL });
      const gc = await collector.gc({ pluginInstanceId: id, minAgeMs: 0 });
      const archive = rec.calls.find((c) => c.op === "put" && c.key.endsWith(".tar"))?.key;
      expect(gc.deleted, "the collection took the frozen save's blob").toEqual([archive]);
      pins.frozen = false;
      return archive!;
    }

    it("checks its pin and the doom right before the ref write: a blob doomed before that is never named by any ref version", async () => {
      const id = instance("precheck");
      const plain = await storeFor({ fingerprintCache: false });
      const { rec, pins, saver } = await frozenSaver();
      // Uploaded and pinned, not yet published: frozen before its index record and refs.
      const indexPut = rec.hold("put", (k) => k.startsWith(`ws/${id}/index/`));
      const saving = saver.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ "w.bin": randomBytes(50_000) }),
      });
      await indexPut.reached;
      const collected = await collectFrozen(rec, pins, id);
      indexPut.open();
      const saved = await saving;
      expect(saved.ref.archivePath).not.toBe(collected);
      // Before the check it wrote a version naming the collected blob, then repaired it: two
      // versions per handle. Now the doom is found before any ref is written.
      expect({
        h: await versionSizes(id, "h"),
        default: await versionSizes(id, "default"),
      }).toEqual({ h: [expect.any(Number)], default: [expect.any(Number)] });
      expect(await missingInHistory(plain, id, "h")).toEqual([]);
      const report = await plain.verify({ pluginInstanceId: id });
      expect({ bad: report.bad, repaired: report.repaired, ok: report.ok }).toEqual({
        bad: [],
        repaired: [],
        ok: 1,
      });
      await plain.fetch({ pluginInstanceId: id, handle: "h", target: out("precheck") });
    });

    it("frozen at its ref write: it repairs the handles and withdraws the versions naming the collected blob, so history() and verify() name no missing blob", async () => {
      const id = instance("withdraw");
      const plain = await storeFor({ fingerprintCache: false });
      const { rec, pins, saver } = await frozenSaver();
      const refPut = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
      const saving = saver.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ "w.bin": randomBytes(50_000) }),
      });
      await refPut.reached;
      const collected = await collectFrozen(rec, pins, id);
      refPut.open(); // h, then default, name the deleted blob; the save notices and repairs
      const saved = await saving;
      expect(saved.ref.archivePath).not.toBe(collected);
      const history = {
        h: (await plain.history({ pluginInstanceId: id, handle: "h" })).map((r) => r.archivePath),
        default: (await plain.history({ pluginInstanceId: id, handle: "default" })).map(
          (r) => r.archivePath,
        ),
      };
      expect(history, "history after the repair").toEqual({
        h: [saved.ref.archivePath],
        default: [saved.ref.archivePath],
      });
      // The dead versions are emptied, not deleted: their keys stay (compare-and-swap).
      expect(await versionSizes(id, "h")).toEqual([expect.any(Number), 0]);
      const report = await plain.verify({ pluginInstanceId: id });
      expect({ bad: report.bad, repaired: report.repaired }).toEqual({ bad: [], repaired: [] });
      await plain.fetch({ pluginInstanceId: id, handle: "h", target: out("withdraw") });
    });

    it("stopped before withdrawing them: history() leaves out the dead versions and verify() reports them as repaired, not as bad blobs", async () => {
      const id = instance("repaired");
      const plain = await storeFor({ fingerprintCache: false });
      const { rec, pins, saver } = await frozenSaver();
      // The withdrawals (the second write of each first version key) never land.
      const writes = new Map<string, number>();
      rec.drop("put", (k) => {
        if (k !== firstVersionKey(id, "h") && k !== firstVersionKey(id, "default")) return false;
        writes.set(k, (writes.get(k) ?? 0) + 1);
        return writes.get(k)! > 1;
      });
      const refPut = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
      const saving = saver.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ "w.bin": randomBytes(50_000) }),
      });
      await refPut.reached;
      const collected = await collectFrozen(rec, pins, id);
      refPut.open();
      const saved = await saving;
      const dead = await readRefAt(firstVersionKey(id, "h"));
      expect(dead.archivePath, "the dead version is still there").toBe(collected);
      expect(await plain.history({ pluginInstanceId: id, handle: "h" })).toEqual([saved.ref]);
      expect(await plain.history({ pluginInstanceId: id, handle: "default" })).toEqual([
        saved.defaultRef,
      ]);
      const report = await plain.verify({ pluginInstanceId: id });
      expect({ bad: report.bad, ok: report.ok }).toEqual({ bad: [], ok: 1 });
      expect(report.repaired).toEqual([
        {
          handle: "default",
          archivePath: collected,
          digest: saved.ref.digest,
          repairedBy: saved.ref.archivePath,
        },
        {
          handle: "h",
          archivePath: collected,
          digest: saved.ref.digest,
          repairedBy: saved.ref.archivePath,
        },
      ]);
    });

    it("a save that gives up (its blob collected three times) puts the handle back where it was", async () => {
      const id = instance("giveup");
      const plain = await storeFor({ fingerprintCache: false });
      const before = await plain.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ "p.bin": "before" }),
        setAsDefault: false,
      });
      const beforeId = before.ref.archivePath.split("/").pop()!.split(".")[0]!;
      // After the first collection, every other blob looks doomed to the saver.
      const dooms = { on: false };
      const { rec, pins, saver } = await frozenSaver((inner) => ({
        name: inner.name,
        description: inner.description,
        capabilities: inner.capabilities,
        put: (key, body, options) => inner.put(key, body, options),
        get: (key, options) => inner.get(key, options),
        list: (prefix, options) => inner.list(prefix, options),
        delete: (key, options) => inner.delete(key, options),
        async head(key, options) {
          if (dooms.on && key.includes("/doomed/") && !key.includes(beforeId)) {
            return { key, size: 2, etag: "doom", lastModified: new Date() };
          }
          return inner.head(key, options);
        },
      }));
      const refPut = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
      const saving = saver
        .save({
          pluginInstanceId: id,
          handle: "h",
          folder: await folderWith({ "q.bin": randomBytes(50_000) }),
          setAsDefault: false,
        })
        .catch((error: unknown) => error);
      await refPut.reached;
      await collectFrozen(rec, pins, id);
      dooms.on = true;
      refPut.open();
      const outcome = await saving;
      expect(RemoteError.isInstance(outcome), String(outcome)).toBe(true);
      const now = await plain.resolve({ pluginInstanceId: id, handle: "h" });
      expect(now.archivePath, "h after the failed save").toBe(before.ref.archivePath);
      expect(await missingInHistory(plain, id, "h")).toEqual([]);
      await plain.fetch({ pluginInstanceId: id, handle: "h", target: out("giveup") });
    });
  });

  it("a resolve that lists a version emptied before it reads it (trimmed or withdrawn meanwhile) reads the newer version", async () => {
    const id = instance("emptied");
    const plain = await storeFor({ fingerprintCache: false });
    const rec = controlled(backend);
    const reader = await storeFor({ fingerprintCache: false }, rec.backend);
    const save = async (content: string) =>
      plain.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ f: content }),
        setAsDefault: false,
      });
    await save("one");
    const first = `ws/${id}/refs/h/999999999999.json`;
    const read = rec.hold("get", (k) => k === first);
    const resolving = reader
      .resolve({ pluginInstanceId: id, handle: "h" })
      .catch((error: unknown) => error);
    await read.reached; // listed: version 0 is the newest
    const two = await save("two");
    await backend.put(first, Buffer.alloc(0)); // emptied, now that version 1 exists
    read.open();
    const resolved = await resolving;
    expect(resolved instanceof Error ? resolved.message : (resolved as CheckpointRef).digest).toBe(
      two.ref.digest,
    );
  });

  it("gc removes leftovers: orphan manifests and index records, stale pins, old dooms", async () => {
    const store = await storeFor({ pinTtlMs: 1000 });
    const id = instance("leftovers");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "keep",
      folder: await folderWith({ k: "k" }),
    });
    const ghost = "0aaaaaaaa-0123456789abcdef";
    const planted = [
      `ws/${id}/blobs/${ghost}.manifest`,
      `ws/${id}/index/sha256/${"b".repeat(64)}/${ghost}.json`,
      `ws/${id}/pins/${ghost}/0123456789abcdef.json`,
      `ws/${id}/doomed/0bbbbbbbb-0123456789abcdef.json`,
    ];
    for (const key of planted) await backend.put(key, Buffer.from("{}"));
    await sleep(1200);
    const gc = await store.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc.leftovers.removed).toBeGreaterThanOrEqual(3);
    for (const key of planted) expect(await keysUnder(backend, key), key).toEqual([]);
    await store.fetch({ pluginInstanceId: id, handle: "keep", target: out("keep") });
    expect((await store.resolve({ pluginInstanceId: id, handle: "keep" })).digest).toBe(ref.digest);
  });

  it("TrainableModel.saveRemote / loadRemote work end to end without a cache", async () => {
    const store = await storeFor();
    const id = instance("model");
    const model = new NoteModel();
    model.note = "trained";
    const saved = await model.saveRemote({ store, pluginInstanceId: id, handle: "v1" });
    expect(saved.archivePath).toMatch(
      new RegExp(`^ws/${id}/blobs/[0-9a-z]{9}-[0-9a-f]{16}\\.tar$`),
    );
    const loaded = await NoteModel.loadRemote({
      store,
      pluginInstanceId: id,
      config: { prefix: "> " },
    });
    expect(loaded.note).toBe("> trained");
  });

  it("prune keeps default, protected, last-N and best-N; gc removes only unreferenced old blobs", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const store = await storeFor({
      now: () => {
        clock += 60_000;
        return new Date(clock);
      },
    });
    const id = instance("prune");
    const f1 = [0.5, 0.9, 0.7, 0.6, 0.8];
    const refs: CheckpointRef[] = [];
    for (const [i, score] of f1.entries()) {
      refs.push(
        (
          await store.save({
            pluginInstanceId: id,
            handle: `v${i}`,
            folder: await folderWith({ "m.txt": `model ${i}` }),
            setAsDefault: i === 0,
            metadata: { trainingResults: { f1: score } },
          })
        ).ref,
      );
    }
    await expect(store.prune({ pluginInstanceId: id })).rejects.toSatisfy(
      ValidationError.isInstance,
    );
    const dry = await store.prune({
      pluginInstanceId: id,
      keepLast: 1,
      keepBest: 1,
      metric: "f1",
      protect: ["v2"],
      dryRun: true,
    });
    expect(dry.deleted.sort()).toEqual(["v0", "v3"]);
    expect((await store.list({ pluginInstanceId: id })).length).toBe(6);
    const res = await store.prune({
      pluginInstanceId: id,
      keepLast: 1,
      keepBest: 1,
      metric: "f1",
      protect: ["v2"],
    });
    expect(res.kept.sort()).toEqual(["default", "v1", "v2", "v4"]);
    expect((await store.list({ pluginInstanceId: id })).map((r) => r.handle)).toEqual([
      "default",
      "v1",
      "v2",
      "v4",
    ]);
    // v0's blob is live through `default`; v3's is garbage once old enough.
    expect((await store.gc({ pluginInstanceId: id, minAgeMs: 3_600_000 })).deleted).toEqual([]);
    const gc = await store.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc.deleted).toEqual([refs[3]?.archivePath]);
    for (const handle of ["default", "v1", "v2", "v4"])
      await store.fetch({ pluginInstanceId: id, handle, target: out(`after-gc-${handle}`) });
    await expect(store.delete({ pluginInstanceId: id, handle: "v3" })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
    expect(await store.history({ pluginInstanceId: id, handle: "v3" })).toEqual([]);
  });

  it("stores never reach outside their workspace", async () => {
    const a = await createCheckpointStore({ backend, workspace: "alpha", fingerprintCache: false });
    const b = await createCheckpointStore({ backend, workspace: "beta", fingerprintCache: false });
    const id = instance("iso");
    const { ref } = await a.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ s: "secret" }),
    });
    expect(await b.list({ pluginInstanceId: id })).toEqual([]);
    await expect(b.resolve({ pluginInstanceId: id, handle: "v1" })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
    await expect(b.fetch({ pluginInstanceId: id, ref, target: out("steal") })).rejects.toSatisfy(
      IntegrityError.isInstance,
    );
    await expect(b.setHandle({ pluginInstanceId: id, handle: "default", ref })).rejects.toSatisfy(
      ValidationError.isInstance,
    );
  });

  it.runIf(name === "file")(
    "a FIFO planted at an archive path fails fast instead of hanging",
    async () => {
      const root = (backend.description as string).replace("file://", "");
      const store = await storeFor();
      const id = instance("fifo");
      const { ref } = await store.save({
        pluginInstanceId: id,
        handle: "v1",
        folder: await folderWith({ a: "a" }),
      });
      await unlink(join(root, ref.archivePath));
      execFileSync("mkfifo", [join(root, ref.archivePath)]);
      const target = out("fifo");
      const outcome = await Promise.race([
        store.fetch({ pluginInstanceId: id, handle: "v1", target }).catch((e) => e),
        sleep(5000).then(() => "hung"),
      ]);
      expect(IntegrityError.isInstance(outcome), String(outcome)).toBe(true);
      expect(String(outcome)).toMatch(/not a regular file/);
      expect(existsSync(target)).toBe(false);
    },
  );
});

describe("store format versions", () => {
  it("refuses a store written before format version 2, and a marker of another version, naming both", async () => {
    const v1 = createMemoryBackend();
    await v1.put(
      "ws/inst/refs/default/000000000000.json",
      Buffer.from('{"schemaVersion":1,"handle":"default"}'),
    );
    const err = await createCheckpointStore({ backend: v1, workspace: "ws" }).catch((e) => e);
    expect(IntegrityError.isInstance(err), String(err)).toBe(true);
    expect(err.message).toMatch(/format version 1 .*reads and writes format version 2/);

    const v3 = createMemoryBackend();
    await v3.put(
      "_trainable-store.json",
      Buffer.from('{"format":"trainable-checkpoint-store","formatVersion":3}'),
    );
    const err3 = await createCheckpointStore({ backend: v3, workspace: "ws" }).catch((e) => e);
    expect(err3.message).toMatch(/format version 3 .*reads and writes format version 2/);

    // A fresh store gets its marker with its first write; a v1 ref inside it is refused by version.
    const fresh = createMemoryBackend();
    const store = await createCheckpointStore({
      backend: fresh,
      workspace: "ws",
      fingerprintCache: false,
    });
    await store.save({
      pluginInstanceId: "inst",
      handle: "v1",
      folder: await folderWith({ a: "a" }),
    });
    expect(
      JSON.parse((await readAll((await fresh.get("_trainable-store.json")).body)).toString()),
    ).toEqual({
      format: "trainable-checkpoint-store",
      formatVersion: 2,
    });
    await fresh.put(
      "ws/inst/refs/v1/999999999998.json",
      Buffer.from('{"schemaVersion":1,"handle":"v1"}'),
    );
    const refErr = await store.resolve({ pluginInstanceId: "inst", handle: "v1" }).catch((e) => e);
    expect(refErr.message).toMatch(/checkpoint format version 1; .*format version 2/);
  });
});

describe("checkpoint store interop", () => {
  it("a stored archive extracts with GNU tar, and its manifest is plain NDJSON", async () => {
    const root = await mkdtemp(join(tmpdir(), "ckpt-gnu-"));
    const store = await createCheckpointStore({
      url: `file://${root}`,
      workspace: "ws",
      fingerprintCache: false,
    });
    const { ref } = await store.save({
      pluginInstanceId: "gnu",
      handle: "v1",
      folder: await folderWith({ "a/b.txt": "gnu ok", "c.txt": "c" }),
    });
    const dest = await mkdtemp(join(tmpdir(), "ckpt-gnu-out-"));
    execFileSync("tar", ["-xf", join(root, ref.archivePath), "-C", dest]);
    expect(await readTree(dest)).toEqual({ "a/b.txt": "gnu ok", "c.txt": "c" });
    const manifest = await readFile(join(root, ref.archivePath.replace(/\.tar$/, ".manifest")));
    expect(manifest.equals(manifestBytes(manifestOf({ "a/b.txt": "gnu ok", "c.txt": "c" })))).toBe(
      true,
    );
  });

  it("an archive uploaded to S3 reads back with a plain S3 GET", async () => {
    const cfg = getS3TestConfig();
    const prefix = `${cfg.prefix}plain-${randomUUID()}/`;
    const store = await createCheckpointStore({
      backend: createS3Backend({
        bucket: cfg.bucket,
        prefix,
        endpoint: cfg.endpoint,
        region: cfg.region,
        forcePathStyle: true,
        credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
      }),
      workspace: "ws",
      fingerprintCache: false,
    });
    const data = randomBytes(20_000);
    const { ref } = await store.save({
      pluginInstanceId: "plain",
      handle: "v1",
      folder: await folderWith({ "w.bin": data }),
    });
    const client = new S3Client({
      endpoint: cfg.endpoint,
      region: cfg.region,
      forcePathStyle: true,
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    });
    const res = await client.send(
      new GetObjectCommand({ Bucket: cfg.bucket, Key: `${prefix}${ref.archivePath}` }),
    );
    const bytes = Buffer.from(await res.Body!.transformToByteArray());
    expect(bytes.length).toBe(ref.size);
    expect(bytes.subarray(512, 512 + data.length).equals(data)).toBe(true);
    client.destroy();
  });
});
