import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  type CheckpointRef,
  ConflictError,
  IntegrityError,
  type InvocableResponse,
  NotFoundError,
  TrainableModel,
  type TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../../tools/s3-server/s3-test-env.js";
import { craftTar, entry } from "../archive/__fixtures__/craft-tar.js";
import { createFileBackend } from "../backends/file-backend.js";
import { createMemoryBackend } from "../backends/memory-backend.js";
import { createS3Backend } from "../backends/s3-backend.js";
import type { RemoteBackend } from "../backends/types.js";
import { createCheckpointStore } from "./create-checkpoint-store.js";

/** Records every backend call, to prove validation happens before any I/O. */
function recording(backend: RemoteBackend) {
  const calls: string[] = [];
  const wrapped = new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (
        typeof value === "function" &&
        ["put", "get", "head", "list", "delete"].includes(String(prop))
      ) {
        return (...args: unknown[]) => {
          calls.push(`${String(prop)} ${String(args[0])}`);
          return value.apply(target, args);
        };
      }
      return value;
    },
  });
  return { backend: wrapped as RemoteBackend, calls };
}

async function folderWith(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ckpt-src-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content);
  }
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

const backends: { name: string; create: () => Promise<RemoteBackend> }[] = [
  { name: "memory", create: async () => createMemoryBackend() },
  {
    name: "file",
    create: async () => createFileBackend({ root: await mkdtemp(join(tmpdir(), "ckpt-file-")) }),
  },
  {
    name: "s3",
    create: async () => {
      const s3 = getS3TestConfig();
      return createS3Backend({
        bucket: s3.bucket,
        prefix: `${s3.prefix}store-${randomUUID()}/`,
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
    },
  },
];

describe.each(backends)("checkpoint store on $name", ({ create }) => {
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
  const storeFor = (workspace = "ws") => createCheckpointStore({ backend, workspace });

  it("keeps the original's semantics: V1 + default, a second save moves default, V1 stays", async () => {
    const store = await storeFor();
    const id = `inst-${randomUUID().slice(0, 8)}`;
    const first = await folderWith({ "a.txt": "first", "dir/b.json": "{}" });
    const r1 = await store.save({ pluginInstanceId: id, handle: "V1", folder: first });
    expect(r1.defaultRef?.digest).toBe(r1.ref.digest);
    expect(r1.uploadedBytes).toBeGreaterThan(0);

    const [v1, def] = [out("v1"), out("default")];
    await store.fetch({ pluginInstanceId: id, handle: "V1", target: v1 });
    await store.fetch({ pluginInstanceId: id, target: def });
    expect(await readTree(v1)).toEqual({ "a.txt": "first", "dir/b.json": "{}" });
    expect(await readTree(def)).toEqual(await readTree(v1));

    const second = await folderWith({ "a.txt": "second" });
    const r2 = await store.save({ pluginInstanceId: id, handle: "V2", folder: second });
    expect(r2.ref.digest).not.toBe(r1.ref.digest);
    const def2 = out("default2");
    await store.fetch({ pluginInstanceId: id, target: def2 });
    expect(await readTree(def2)).toEqual({ "a.txt": "second" });
    const v1again = out("v1again");
    await store.fetch({ pluginInstanceId: id, handle: "V1", target: v1again });
    expect(await readTree(v1again)).toEqual({ "a.txt": "first", "dir/b.json": "{}" });

    const refs = await store.list({ pluginInstanceId: id });
    expect(refs.map((r) => r.handle)).toEqual(["V1", "V2", "default"]);
    const history = await store.history({ pluginInstanceId: id, handle: "default" });
    expect(history.map((r) => r.digest)).toEqual([r2.ref.digest, r1.ref.digest]);
    expect(history[0]?.parent).toBe(r1.ref.digest);
  });

  it("re-saving an unchanged folder and setting a handle upload no blob bytes", async () => {
    const store = await storeFor();
    const id = `dedupe-${randomUUID().slice(0, 8)}`;
    const folder = await folderWith({ "w.bin": randomBytes(300_000) });
    const first = await store.save({
      pluginInstanceId: id,
      handle: "a",
      folder,
      setAsDefault: false,
    });
    const again = await store.save({
      pluginInstanceId: id,
      handle: "b",
      folder,
      setAsDefault: false,
    });
    expect(again.uploadedBytes).toBe(0);
    expect(again.ref.archivePath).toBe(first.ref.archivePath);
    const rec = recording(backend);
    const store2 = await createCheckpointStore({ backend: rec.backend, workspace: "ws" });
    await store2.setHandle({ pluginInstanceId: id, handle: "default", ref: first.ref });
    expect(rec.calls.filter((c) => c.startsWith("put") && c.includes("/blobs/"))).toEqual([]);
    expect((await store.resolve({ pluginInstanceId: id })).digest).toBe(first.ref.digest);
    // One blob for the three handles.
    const blobs: string[] = [];
    for await (const o of backend.list(`ws/${id}/blobs/`))
      if (o.key.endsWith(".tar")) blobs.push(o.key);
    expect(blobs).toHaveLength(1);
  });

  it("a folder that differs only by an empty directory is another checkpoint, and both load", async () => {
    const store = await storeFor();
    const id = `dirs-${randomUUID().slice(0, 8)}`;
    const plain = await folderWith({ "x.bin": "x" });
    const withLogs = await folderWith({ "x.bin": "x" });
    await mkdir(join(withLogs, "logs"));
    const a = await store.save({ pluginInstanceId: id, handle: "a", folder: plain });
    const b = await store.save({ pluginInstanceId: id, handle: "b", folder: withLogs });
    expect(b.ref.digest).not.toBe(a.ref.digest);
    expect(b.uploadedBytes).toBeGreaterThan(0);
    const target = out("with-logs");
    await store.fetch({ pluginInstanceId: id, target });
    expect((await readdir(target)).sort()).toEqual(["logs", "x.bin"]);
    await store.fetch({ pluginInstanceId: id, handle: "a", target: out("plain") });
  });

  it("records metadata: createdAt, input, results, parent, package version", async () => {
    const store = await createCheckpointStore({
      backend,
      workspace: "ws",
      packageVersion: "9.9.9",
    });
    const id = `meta-${randomUUID().slice(0, 8)}`;
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
    expect(shown.metadata).toMatchObject({
      packageVersion: "9.9.9",
      trainingResults: { f1: 0.97 },
      trainPluginInput: { trainingEpochs: 2 },
    });
    expect(Date.parse(shown.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(shown.files).toEqual([
      { path: "x.txt", size: 1, sha256: expect.stringMatching(/^[a-f0-9]{64}$/) },
    ]);
  });

  it("compare-and-swap: a stale expected digest is a ConflictError and changes nothing; racing writers → one wins", async () => {
    const store = await storeFor();
    const id = `cas-${randomUUID().slice(0, 8)}`;
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
    const losers = results.filter((r) => r.status === "rejected");
    expect(winners).toHaveLength(1);
    for (const l of losers)
      expect(ConflictError.isInstance((l as PromiseRejectedResult).reason)).toBe(true);
    const final = await store.resolve({ pluginInstanceId: id, handle: "main" });
    expect(final.digest).toBe(
      (winners[0] as PromiseFulfilledResult<{ ref: CheckpointRef }>).value.ref.digest,
    );
  });

  it("rejects invalid ids and handles before any I/O, naming the field", async () => {
    const rec = recording(backend);
    const store = await createCheckpointStore({ backend: rec.backend, workspace: "ws" });
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

  it("a corrupted, truncated or missing blob and a malformed ref are IntegrityErrors; nothing is extracted", async () => {
    const store = await storeFor();
    const id = `corrupt-${randomUUID().slice(0, 8)}`;
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.bin": randomBytes(50_000) }),
    });
    const original = await readAll((await backend.get(ref.archivePath)).body);

    const flipped = Buffer.from(original);
    flipped[1024] = (flipped[1024] ?? 0) ^ 0xff;
    const cases: [string, () => Promise<void>][] = [
      [
        "flipped byte",
        async () => {
          await backend.delete(ref.archivePath);
          await backend.put(ref.archivePath, flipped);
        },
      ],
      [
        "truncated",
        async () => {
          await backend.delete(ref.archivePath);
          await backend.put(ref.archivePath, original.subarray(0, original.length - 700));
        },
      ],
      [
        "deleted",
        async () => {
          await backend.delete(ref.archivePath);
        },
      ],
    ];
    for (const [label, corrupt] of cases) {
      await corrupt();
      const target = out(label.replace(" ", "-"));
      const err = await store.fetch({ pluginInstanceId: id, handle: "v1", target }).catch((e) => e);
      expect(IntegrityError.isInstance(err), `${label}: ${err}`).toBe(true);
      expect(existsSync(target)).toBe(false);
    }
    await backend.put(ref.archivePath, original).catch(() => {});

    // A malformed ref: a newer version that is not a valid ref.
    const refKey = `ws/${id}/refs/v1/000000000001.json`;
    await backend.put(refKey, Buffer.from('{"schemaVersion":1,"handle":"v1","digest":"nope"}'));
    const err = await store.resolve({ pluginInstanceId: id, handle: "v1" }).catch((e) => e);
    expect(IntegrityError.isInstance(err)).toBe(true);
    expect(err.message).toContain(refKey);
    expect(err.message).toContain("digest");
    // A plain save repairs it (a malformed current version does not block an overwrite).
    await store.save({ pluginInstanceId: id, handle: "v1", folder: await folderWith({ ok: "1" }) });
    expect((await store.resolve({ pluginInstanceId: id, handle: "v1" })).files[0]?.path).toBe("ok");
  });

  it("a hostile archive behind a valid-looking ref is refused, nothing written", async () => {
    const store = await storeFor();
    const id = `hostile-${randomUUID().slice(0, 8)}`;
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "a.txt": "hello" }),
    });
    // An attacker with bucket access replaces blob + ref: a symlink entry, with matching sha256/size.
    const evil = craftTar(entry({ name: "a.txt", type: "2", linkname: "/etc/passwd" }));
    const { createHash } = await import("node:crypto");
    const sha = createHash("sha256").update(evil).digest("hex");
    await backend.delete(ref.archivePath);
    await backend.put(ref.archivePath, evil);
    await backend.put(
      `ws/${id}/refs/v1/000000000001.json`,
      Buffer.from(JSON.stringify({ ...ref, size: evil.length, archiveSha256: sha })),
    );
    const target = out("evil");
    const err = await store.fetch({ pluginInstanceId: id, handle: "v1", target }).catch((e) => e);
    expect(IntegrityError.isInstance(err), String(err)).toBe(true);
    expect(existsSync(target)).toBe(false);
  });

  it("TrainableModel.saveRemote / loadRemote work end to end without a cache", async () => {
    const store = await storeFor();
    const id = `model-${randomUUID().slice(0, 8)}`;
    const model = new NoteModel();
    model.note = "trained";
    const saved = await model.saveRemote({ store, pluginInstanceId: id, handle: "v1" });
    expect(saved.archivePath).toMatch(new RegExp(`^ws/${id}/blobs/sha256/[a-f0-9]{64}\\.tar$`));
    const loaded = await NoteModel.loadRemote({
      store,
      pluginInstanceId: id,
      config: { prefix: "> " },
    });
    expect(loaded).toBeInstanceOf(NoteModel);
    expect(loaded.note).toBe("> trained");
    const v1 = await NoteModel.loadRemote({ store, pluginInstanceId: id, handle: "v1" });
    expect(v1.note).toBe("trained");
  });

  it("prune keeps default, protected, last-N and best-N; gc removes only unreferenced old blobs", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const store = await createCheckpointStore({
      backend,
      workspace: "ws",
      now: () => {
        clock += 60_000;
        return new Date(clock);
      },
    });
    const id = `prune-${randomUUID().slice(0, 8)}`;
    const f1 = [0.5, 0.9, 0.7, 0.6, 0.8];
    for (const [i, f1score] of f1.entries()) {
      await store.save({
        pluginInstanceId: id,
        handle: `v${i}`,
        folder: await folderWith({ "m.txt": `model ${i}` }),
        setAsDefault: i === 0,
        metadata: { trainingResults: { f1: f1score } },
      });
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

    // v0's blob is still live through `default`; v3's is garbage, but only once old enough.
    const young = await store.gc({ pluginInstanceId: id, minAgeMs: 3_600_000 });
    expect(young.deleted).toEqual([]);
    const wallClock = await createCheckpointStore({
      backend,
      workspace: "ws",
      now: () => new Date(Date.now() + 7_200_000),
    });
    const gc = await wallClock.gc({ pluginInstanceId: id });
    expect(gc.deleted).toHaveLength(1);
    for (const handle of ["default", "v1", "v2", "v4"]) {
      const t = out(`after-gc-${handle}`);
      await store.fetch({ pluginInstanceId: id, handle, target: t });
    }
    // Deleting a missing handle says so.
    await expect(store.delete({ pluginInstanceId: id, handle: "v3" })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
  });

  it("stores never reach outside their workspace", async () => {
    const a = await createCheckpointStore({ backend, workspace: "alpha" });
    const b = await createCheckpointStore({ backend, workspace: "beta" });
    const id = `iso-${randomUUID().slice(0, 8)}`;
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
});

describe("checkpoint store interop", () => {
  const out = (label: string) => join(tmpdir(), `ckpt-interop-${label}-${randomUUID()}`);
  it("a stored blob extracts with GNU tar", async () => {
    const root = await mkdtemp(join(tmpdir(), "ckpt-gnu-"));
    const store = await createCheckpointStore({ url: `file://${root}`, workspace: "ws" });
    const { ref } = await store.save({
      pluginInstanceId: "gnu",
      handle: "v1",
      folder: await folderWith({ "a/b.txt": "gnu ok", "c.txt": "c" }),
    });
    const dest = out("gnu");
    await mkdir(dest);
    execFileSync("tar", ["-xf", join(root, ref.archivePath), "-C", dest]);
    expect(await readTree(dest)).toEqual({ "a/b.txt": "gnu ok", "c.txt": "c" });
  });

  it("a blob uploaded to S3 reads back with a plain S3 GET", async () => {
    const cfg = getS3TestConfig();
    const prefix = `${cfg.prefix}plain-${randomUUID()}/`;
    const s3backend = await createS3Backend({
      bucket: cfg.bucket,
      prefix,
      endpoint: cfg.endpoint,
      region: cfg.region,
      forcePathStyle: true,
      credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    });
    const store = await createCheckpointStore({ backend: s3backend, workspace: "ws" });
    const { ref } = await store.save({
      pluginInstanceId: "plain",
      handle: "v1",
      folder: await folderWith({ "w.bin": randomBytes(20_000) }),
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
    const { createHash } = await import("node:crypto");
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(ref.archiveSha256);
    client.destroy();
  });
});
