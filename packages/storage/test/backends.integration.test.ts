import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { RemoteError, ValidationError } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { createBackend } from "../src/backends/create-backend.js";
import { createFileBackend } from "../src/backends/file/file-backend.js";
import { createMemoryBackend } from "../src/backends/memory/memory-backend.js";
import { PreconditionFailedError } from "../src/backends/precondition-failed-error.js";
import type { RemoteBackend } from "../src/backends/types.js";
import { readAll, testBackend } from "../src/conformance.js";
import { createS3Backend } from "../src/s3.js";

const tempDirs: string[] = [];
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `trainable-${label}-`));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

function s3Options(sub: string) {
  const s3 = getS3TestConfig();
  return {
    bucket: s3.bucket,
    prefix: `${s3.prefix}${sub}`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
}

testBackend({ name: "memory", create: async () => createMemoryBackend() });

testBackend({
  name: "file",
  create: async () => createFileBackend({ root: join(await tempDir("file"), "store") }),
  manyKeys: 1100,
});

testBackend({
  name: "s3 (radosgw)",
  create: async () => createS3Backend(s3Options("conformance/")),
  manyKeys: 1100,
});

testBackend({
  name: "s3 via createBackend(url)",
  create: async () => {
    const s3 = getS3TestConfig();
    const url = new URL(`s3://${s3.bucket}/${s3.prefix}url/`);
    url.searchParams.set("endpoint", s3.endpoint);
    url.searchParams.set("region", s3.region);
    url.searchParams.set("forcePathStyle", "true");
    return createBackend(url.href, {
      s3: { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
    });
  },
});

describe("file backend across processes", () => {
  let moduleUrl: string;
  let root: string;

  /** Bundles the file backend (core left external) to plain ESM that a bare `node` can import. */
  beforeAll(async () => {
    // Inside the package, so the bundle's bare `@trainable/core` import resolves.
    const cacheDir = fileURLToPath(new URL("../node_modules/.cache/", import.meta.url));
    await mkdir(cacheDir, { recursive: true });
    const outDir = await mkdtemp(join(cacheDir, "file-backend-"));
    tempDirs.push(outDir);
    await build({
      entry: {
        "file-backend": fileURLToPath(
          new URL("../src/backends/file/file-backend.ts", import.meta.url),
        ),
      },
      outDir,
      format: ["esm"],
      platform: "node",
      target: "node20",
      dts: false,
      sourcemap: false,
      silent: true,
      external: ["@trainable/core"],
      noExternal: ["@trainable/internal-node"],
    });
    moduleUrl = pathToFileURL(join(outDir, "file-backend.js")).href;
    root = await tempDir("xproc");
  });

  interface WorkerResult {
    ok: boolean;
    etag?: string;
    body?: string;
    name?: string;
    message?: string;
  }

  /** Starts `n` workers, waits until all are ready, fires them at once, returns their results. */
  async function race(n: number, args: string[]): Promise<WorkerResult[]> {
    const worker = fileURLToPath(
      new URL("./__fixtures__/file-backend-worker.mjs", import.meta.url),
    );
    const children: ChildProcess[] = [];
    const ready: Promise<void>[] = [];
    const results: Promise<WorkerResult>[] = [];
    for (let i = 0; i < n; i++) {
      const child = spawn(process.execPath, [worker, moduleUrl, root, ...args], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(child);
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      ready.push(
        lines.next().then((line) => {
          if (line.value !== "ready") throw new Error(`worker said ${JSON.stringify(line.value)}`);
        }),
      );
      results.push(
        ready[i]!.then(() => lines.next()).then((line) => JSON.parse(line.value as string)),
      );
    }
    await Promise.all(ready);
    for (const child of children) child.stdin!.write("go\n");
    return Promise.all(results);
  }

  it("lets exactly one of 8 processes create a key (ifNoneMatch)", async () => {
    const results = await race(8, ["race/created", "create"]);
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok)) expect(r.name).toBe("PreconditionFailedError");
    const backend = createFileBackend({ root });
    const { body } = await backend.get("race/created");
    expect((await readAll(body)).toString()).toBe(winners[0]!.body);
  });

  it("lets exactly one of 8 processes swap from the same ETag (ifMatch)", async () => {
    const backend = createFileBackend({ root });
    const base = await backend.put("race/swapped", Buffer.from("base"));
    const results = await race(8, ["race/swapped", "cas", base.etag]);
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok)) expect(r.name).toBe("PreconditionFailedError");
    const { body, info } = await backend.get("race/swapped");
    expect((await readAll(body)).toString()).toBe(winners[0]!.body);
    expect(info.etag).toBe(winners[0]!.etag);
    const files = await readdir(join(root, "race"));
    expect(files.sort()).toEqual(["created", "swapped"]);
  });
});

describe("file backend specifics", () => {
  it("validates its options when created", () => {
    expect(() => createFileBackend({ root: "relative/dir" })).toThrow(
      '[storage] [file] Invalid option "root": must be an absolute path',
    );
    expect(() => createFileBackend({} as never)).toThrow(
      '[storage] [file] Missing required option "root"',
    );
    expect(() => createFileBackend({ root: "/tmp/x", lockStaleMs: -1 })).toThrow(ValidationError);
  });

  it("leaves no temp files behind after failed and cancelled puts", async () => {
    const root = await tempDir("clean");
    const backend = createFileBackend({ root });
    await backend.put("a/b", Buffer.from("1"), { ifNoneMatch: "*" });
    await expect(backend.put("a/b", Buffer.from("2"), { ifNoneMatch: "*" })).rejects.toThrow(
      PreconditionFailedError,
    );
    await expect(backend.put("a/b", Buffer.from("2"), { ifMatch: "nope" })).rejects.toThrow(
      PreconditionFailedError,
    );
    const failing = new Readable({
      read() {
        this.destroy(new Error("disk on fire"));
      },
    });
    await expect(backend.put("a/c", failing)).rejects.toThrow(RemoteError);
    expect(await readdir(join(root, "a"))).toEqual(["b"]);
  });

  it("removes empty folders on delete, never the root", async () => {
    const root = await tempDir("rmdir");
    const backend = createFileBackend({ root });
    await backend.put("x/y/z", Buffer.from("1"));
    await backend.delete("x/y/z");
    expect(await readdir(root)).toEqual([]);
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it("lists as folders only those holding an object: not empty ones, nor temp or lock files", async () => {
    const root = await tempDir("folders");
    const backend = createFileBackend({ root });
    await backend.put("ws/kept/x", Buffer.from("1"));
    await mkdir(join(root, "ws", "empty", "deeper"), { recursive: true });
    await mkdir(join(root, "ws", "leftovers"), { recursive: true });
    await writeFile(join(root, "ws", "leftovers", ".~tmp.x.123"), "partial");
    await writeFile(join(root, "ws", "leftovers", ".~lock.x"), "{}");
    await mkdir(join(root, "ws", ".~reserved"), { recursive: true });
    await writeFile(join(root, "ws", ".~reserved", "y"), "y");
    const names: string[] = [];
    for await (const name of backend.listPrefixes?.("ws/") ?? []) names.push(name);
    expect(names).toEqual(["kept"]);
  });

  it("breaks a lock left by a dead process, and a lock older than lockStaleMs", async () => {
    const root = await tempDir("locks");
    const backend = createFileBackend({ root, lockStaleMs: 500, lockTimeoutMs: 5_000 });
    await backend.put("k/one", Buffer.from("1"));
    // A lock from a pid that cannot exist on this host.
    const lock = join(root, "k", ".~lock.one");
    const host = (await import("node:os")).hostname();
    await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host, nonce: "dead" }));
    await backend.put("k/one", Buffer.from("2"));
    // A lock from a live process (ours) that is older than lockStaleMs.
    await writeFile(lock, JSON.stringify({ pid: process.pid, host, nonce: "old" }));
    const old = new Date(Date.now() - 10_000);
    await utimes(lock, old, old);
    await backend.put("k/one", Buffer.from("3"));
    expect(await readdir(join(root, "k"))).toEqual(["one"]);
  });

  it("waits for a live lock and fails with a retryable RemoteError after lockTimeoutMs", async () => {
    const root = await tempDir("lock-timeout");
    const backend = createFileBackend({ root, lockTimeoutMs: 300 });
    await mkdir(join(root, "k"), { recursive: true });
    const host = (await import("node:os")).hostname();
    await writeFile(
      join(root, "k", ".~lock.two"),
      JSON.stringify({ pid: process.pid, host, nonce: "x" }),
    );
    const error = await backend.put("k/two", Buffer.from("1")).catch((e) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as RemoteError).retryable).toBe(true);
    expect(await backend.head("k/two")).toBeUndefined();
    // Create-only never needs the lock.
    await backend.put("k/two", Buffer.from("created"), { ifNoneMatch: "*" });
    expect(await readdir(join(root, "k"))).toContain("two");
  });
});

describe("s3 backend specifics", () => {
  it("validates its options when created", () => {
    expect(() => createS3Backend({} as never)).toThrow(
      '[storage] [s3] Missing required option "bucket"',
    );
    expect(() => createS3Backend({ bucket: "Bad_Bucket!" })).toThrow(ValidationError);
    expect(() => createS3Backend({ bucket: "ok-bucket", partSize: 1024 })).toThrow(
      '[storage] [s3] Invalid option "partSize"',
    );
    expect(() => createS3Backend({ bucket: "ok-bucket", endpoint: "ftp://x" })).toThrow(
      ValidationError,
    );
    expect(() =>
      createS3Backend({ bucket: "ok-bucket", endpoint: "http://user:secret@localhost:1" }),
    ).toThrow(/must not contain credentials/);
    expect(() => createS3Backend({ bucket: "ok-bucket", prefix: "../up" })).toThrow(
      ValidationError,
    );
  });

  it("describes itself without credentials", () => {
    const options = s3Options("describe/");
    const backend = createS3Backend(options);
    expect(backend.description).toBe(
      `s3://${options.bucket}/${options.prefix} at ${options.endpoint}`,
    );
    expect(backend.description).not.toContain(options.credentials.secretAccessKey);
    expect(backend.description).not.toContain(options.credentials.accessKeyId);
  });

  it("maps refused credentials to a non-retryable RemoteError that names no secret", async () => {
    const options = s3Options("bad-creds/");
    const secret = "definitely-wrong-secret-value";
    const backend = createS3Backend({
      ...options,
      credentials: { accessKeyId: options.credentials.accessKeyId, secretAccessKey: secret },
      maxAttempts: 1,
    });
    for (const op of [() => backend.put("k", Buffer.from("x")), () => backend.get("k")]) {
      const error = await op().catch((e) => e);
      expect(RemoteError.isInstance(error)).toBe(true);
      expect((error as RemoteError).retryable).toBe(false);
      expect((error as RemoteError).status).toBe(403);
      expect((error as Error).message).toMatch(/check the credentials/);
      expect((error as Error).message).not.toContain(secret);
    }
    await backend.close?.();
  });

  it("maps an unreachable server to a retryable RemoteError", async () => {
    const backend = createS3Backend({
      ...s3Options("down/"),
      endpoint: "http://127.0.0.1:9",
      maxAttempts: 1,
    });
    const error = await backend.head("k").catch((e) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as RemoteError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/could not reach the server/);
    await backend.close?.();
  });

  it("refuses a compare-and-swap of a body larger than partSize (radosgw ignores If-Match on multipart)", async () => {
    const backend = createS3Backend({ ...s3Options("big-cas/"), partSize: 5 * 1024 * 1024 });
    const base = await backend.put("k", Buffer.from("base"));
    const big = Readable.from([Buffer.alloc(6 * 1024 * 1024, 1)]);
    const error = await backend.put("k", big, { ifMatch: base.etag }).catch((e) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((await backend.head("k"))?.etag).toBe(base.etag);
    await backend.close?.();
  });

  it("declares compare-and-swap off when conditionalWrites.ifMatch is false, and refuses ifMatch", async () => {
    const backend = createS3Backend({
      ...s3Options("no-cas/"),
      conditionalWrites: { ifMatch: false },
    });
    expect(backend.capabilities).toEqual({
      createOnly: true,
      compareAndSwap: false,
      rangeReads: true,
      conditionalMaxBytes: 8 * 1024 * 1024,
    });
    const base = await backend.put("k", Buffer.from("base"));
    const error = await backend.put("k", Buffer.from("x"), { ifMatch: base.etag }).catch((e) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    await backend.close?.();
  });

  it("sweep aborts stale incomplete multipart uploads under its prefix, never fresh ones", async () => {
    const s3 = getS3TestConfig();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const prefix = `${s3.prefix}sweep/`;
    const started = await client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}scope/blob.tar` }),
    );
    const outside = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: `${s3.prefix}elsewhere/blob.tar`,
      }),
    );
    const pending = async (key: string) =>
      (
        (await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: key })))
          .Uploads ?? []
      ).length;
    // A default backend keeps uploads younger than an hour: one may be in progress.
    const cautious = createS3Backend(s3Options("sweep/"));
    expect(await cautious.sweep?.("scope/")).toEqual({ removed: 0, bytes: 0 });
    expect(await pending(`${prefix}scope/`)).toBe(1);
    const eager = createS3Backend({ ...s3Options("sweep/"), sweepMinAgeMs: 0 });
    expect(await eager.sweep?.("scope/")).toEqual({ removed: 1, bytes: 0 });
    expect(await pending(`${prefix}scope/`)).toBe(0);
    expect(await pending(`${s3.prefix}elsewhere/`)).toBe(1);
    await client.send(
      new AbortMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: `${s3.prefix}elsewhere/blob.tar`,
        UploadId: outside.UploadId,
      }),
    );
    expect(started.UploadId).toBeDefined();
    client.destroy();
  });

  it("uses an injected client and leaves it open on close()", async () => {
    const s3 = getS3TestConfig();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const backend = createS3Backend({ bucket: s3.bucket, prefix: `${s3.prefix}client/`, client });
    await backend.put("k", Buffer.from("via client"));
    await backend.close?.();
    const again = createS3Backend({ bucket: s3.bucket, prefix: `${s3.prefix}client/`, client });
    const { body } = await again.get("k");
    expect((await readAll(body)).toString()).toBe("via client");
    client.destroy();
  });

  it("listPrefixes pages through the server's CommonPrefixes: one entry per folder", async () => {
    const s3 = getS3TestConfig();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const delimited: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Delimiter?: string; ContinuationToken?: string };
        if (context.commandName === "ListObjectsV2Command" && input.Delimiter === "/") {
          delimited.push(input.ContinuationToken === undefined ? "first" : "next");
        }
        return next(args);
      },
      { step: "initialize" },
    );
    const prefix = `${s3.prefix}pages-${Date.now().toString(36)}/`;
    const backend = createS3Backend({ bucket: s3.bucket, prefix, client });
    const folders = Array.from({ length: 1001 }, (_, i) => `f${String(i).padStart(4, "0")}`);
    // Two keys in each of the first folders: still one entry each.
    const keys = [...folders.map((f) => `${f}/a`), "f0000/b/c", "f0001/b"];
    await mapLimit(keys, 32, (key) => backend.put(key, Buffer.from("x")));
    const names: string[] = [];
    for await (const name of backend.listPrefixes?.("") ?? []) names.push(name);
    expect(names).toEqual(folders);
    expect(delimited).toEqual(["first", "next"]);
    client.destroy();
  });

  it("creates a missing bucket with createBucket: true", async () => {
    const s3 = getS3TestConfig();
    const bucket = `trainable-test-create-${Date.now().toString(36)}`;
    const options = s3Options("");
    let backend: RemoteBackend | undefined;
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: options.credentials,
    });
    try {
      const without = createS3Backend({ ...options, bucket, prefix: undefined, maxAttempts: 1 });
      const error = await without.put("k", Buffer.from("x")).catch((e) => e);
      expect(RemoteError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/does not exist/);
      await without.close?.();
      backend = createS3Backend({ ...options, bucket, prefix: undefined, createBucket: true });
      await backend.put("k", Buffer.from("in a new bucket"));
      expect((await backend.head("k"))?.size).toBe(15);
    } finally {
      await backend?.close?.();
      const listed = await client
        .send(new ListObjectsV2Command({ Bucket: bucket }))
        .catch(() => undefined);
      for (const item of listed?.Contents ?? []) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: item.Key }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
      client.destroy();
    }
  });
});
