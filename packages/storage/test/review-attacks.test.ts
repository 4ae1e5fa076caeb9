/**
 * A hostile review of the checkpoint store (format version 2): each `describe` block attacks one
 * of the guarantees of docs/architecture.md ("Checkpoint format version 2", "Saving and loading at
 * the speed of tar") and packages/storage/README.md. Each test names the guarantee it attacks;
 * most of them failed on the code they were written against (the comments say how), and each
 * fix made them pass.
 *
 * Real parts only: memory, file and S3 (radosgw) backends, temp dirs, child processes, a loop
 * mount when running as root. Interleavings are forced with `controlled()` (a wrapping backend that
 * holds calls) and two small wrappers below: one that drops pin refreshes (a process frozen past
 * its pin's lifetime: its timers do not run) and one that stops answering (a stalled server that,
 * like the real S3 client, still gives up on a call whose own signal aborts).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import {
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CancelledError, IntegrityError, NotFoundError } from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { createFileBackend } from "../src/backends/file/file-backend.js";
import { createMemoryBackend } from "../src/backends/memory/memory-backend.js";
import type { ObjectInfo, RemoteBackend } from "../src/backends/types.js";
import { controlled } from "../src/checkpoint/__fixtures__/controlled-backend.js";
import {
  type CreateCheckpointStoreOptions,
  createCheckpointStore,
} from "../src/checkpoint/create-checkpoint-store.js";
import { createS3Backend } from "../src/s3.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "__fixtures__");

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "review-attacks-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const out = (label: string) => join(work, `${label}-${randomUUID().slice(0, 8)}`);
const instance = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

async function folderWith(files: Record<string, string | Buffer | null>): Promise<string> {
  const dir = await mkdtemp(join(work, "src-"));
  for (const [path, content] of Object.entries(files)) {
    if (content === null) {
      await mkdir(join(dir, path), { recursive: true });
      continue;
    }
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await sleep(30); // past the filesystem clock's tick: a save remembers these files as settled
  return dir;
}

async function readTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    tree[full.slice(dir.length + 1)] = entry.isFile() ? await readFile(full, "hex") : "<dir>";
  }
  return tree;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function keysUnder(backend: RemoteBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys;
}

function storeOn(backend: RemoteBackend, extra: Partial<CreateCheckpointStoreOptions> = {}) {
  return createCheckpointStore({
    backend,
    workspace: "ws",
    fingerprintCache: join(work, "fp"),
    ...extra,
  });
}

/** The outcome of a promise: its value, or the error it rejected with. */
const settle = <T>(promise: Promise<T>): Promise<T | Error> =>
  promise.then(
    (value) => value,
    (error: Error) => error,
  );

/** Every handle of an instance loads (no ref names a missing or damaged blob). */
async function danglingHandles(
  store: Awaited<ReturnType<typeof createCheckpointStore>>,
  pluginInstanceId: string,
): Promise<string[]> {
  const bad: string[] = [];
  for (const ref of await store.list({ pluginInstanceId })) {
    const outcome = await settle(
      store.fetch({ pluginInstanceId, handle: ref.handle, target: out(`check-${ref.handle}`) }),
    );
    if (outcome instanceof Error) bad.push(`${ref.handle}: ${outcome.message.slice(0, 160)}`);
  }
  return bad;
}

/**
 * A process frozen past its pin's lifetime (SIGSTOP, a suspended VM, a laptop lid): its first pin
 * write lands, its refresh timer never fires. Modelled by answering refreshes without storing them.
 */
function frozenPins(inner: RemoteBackend): RemoteBackend {
  const written = new Set<string>();
  return {
    ...inner,
    list: inner.list.bind(inner),
    async put(key, body, options) {
      if (key.includes("/pins/")) {
        if (written.has(key)) return { key, size: 0, etag: "dropped" } satisfies ObjectInfo;
        written.add(key);
      }
      return inner.put(key, body, options);
    },
  };
}

/**
 * A server that stops answering when told to. Like the real S3 client, a call still ends when
 * its own signal aborts; a call made without a signal waits for ever.
 */
function stallable(inner: RemoteBackend) {
  let stalled = false;
  const stalledCalls: string[] = [];
  const wait = (what: string, signal?: AbortSignal): Promise<never> => {
    stalledCalls.push(`${what}${signal ? "" : " (no signal)"}`);
    return new Promise((_, reject) => {
      const fail = () => reject(new CancelledError(`[test] ${what} aborted`));
      if (signal?.aborted) return fail();
      signal?.addEventListener("abort", fail, { once: true });
    });
  };
  const backend: RemoteBackend = {
    ...inner,
    async put(key, body, options) {
      if (stalled) {
        if (!(body instanceof Uint8Array)) body.destroy();
        return wait(`put ${key}`, options?.signal);
      }
      return inner.put(key, body, options);
    },
    async get(key, options) {
      if (stalled) return wait(`get ${key}`, options?.signal);
      return inner.get(key, options);
    },
    async head(key, options) {
      if (stalled) return wait(`head ${key}`, options?.signal);
      return inner.head(key, options);
    },
    async delete(key, options) {
      if (stalled) return wait(`delete ${key}`, options?.signal);
      return inner.delete(key, options);
    },
    async *list(prefix, options) {
      if (stalled) await wait(`list ${prefix}`, options?.signal);
      yield* inner.list(prefix, options);
    },
  };
  return {
    backend,
    stalledCalls,
    stall() {
      stalled = true;
    },
  };
}

function s3Backend(label: string): RemoteBackend {
  const s3 = getS3TestConfig();
  return createS3Backend({
    bucket: s3.bucket,
    prefix: `${s3.prefix}review-${label}-${randomUUID()}/`,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Compare-and-swap and "a plain save is visible when it returns"
// ---------------------------------------------------------------------------------------------

describe("guarantee 1: ref logs (compare-and-swap, visible saves)", () => {
  it("a version planted at the last number fails the next save loudly, never a save that returns and cannot be read", async () => {
    // The code promises that a malformed newest version "does not block a plain overwrite (it is
    // never the newest again)". Plant it at the highest sequence number the key format has.
    const backend = createMemoryBackend();
    const store = await storeOn(backend, { fingerprintCache: false });
    const id = instance("maxseq");
    await store.save({ pluginInstanceId: id, handle: "h", folder: await folderWith({ f: "1" }) });
    await backend.put(`ws/${id}/refs/h/000000000000.json`, Buffer.from("garbage"));
    // No number is left above the planted version: the save fails loudly, naming it, instead
    // of returning and leaving a version no one can read.
    const saved = await settle(
      store.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ f: "2" }),
        setAsDefault: false,
      }),
    );
    expect(IntegrityError.isInstance(saved), String(saved)).toBe(true);
    expect(String(saved)).toMatch(/no version number left .*planted/);
    expect(await keysUnder(backend, `ws/${id}/refs/h/`)).toEqual([
      `ws/${id}/refs/h/000000000000.json`,
      `ws/${id}/refs/h/999999999999.json`,
    ]);
  });

  it("(file backend) a Finder .DS_Store in refs/{handle}/ neither hides the handle nor blocks saves", async () => {
    // Any non-version key that lists before the versions ('.' < '0') stops readNewestVersion.
    const root = await mkdtemp(join(work, "file-store-"));
    const store = await createCheckpointStore({
      backend: createFileBackend({ root }),
      workspace: "ws",
      fingerprintCache: false,
    });
    const id = instance("dsstore");
    const first = await store.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ f: "1" }),
      setAsDefault: false,
    });
    await writeFile(join(root, "ws", id, "refs", "h", ".DS_Store"), "Bud1");
    const resolved = await settle(store.resolve({ pluginInstanceId: id, handle: "h" }));
    expect(
      resolved instanceof Error ? `${resolved.name}: ${resolved.message}` : resolved.digest,
    ).toBe(first.ref.digest);
    const again = await settle(
      store.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ f: "2" }),
        setAsDefault: false,
      }),
    );
    expect(again instanceof Error ? `${again.name}: ${again.message}` : "saved").toBe("saved");
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// 2. Small refs, the same limit on write and read
// ---------------------------------------------------------------------------------------------

describe("guarantee 2: small refs, symmetric limits", () => {
  it("metadata under the 32 KiB limit (a 100×100 confusion matrix) fits in its ref: refs are written compact", async () => {
    const rec = controlled(createMemoryBackend());
    const store = await storeOn(rec.backend, { fingerprintCache: false });
    const confusion = Array.from({ length: 100 }, (_, i) =>
      Array.from({ length: 100 }, (_, j) => (i * j) % 10),
    );
    const metadata = { trainingResults: { f1: 0.91, confusion } };
    const compact = Buffer.byteLength(JSON.stringify(metadata));
    expect(compact).toBeLessThan(32 * 1024);
    const id = instance("meta");
    const outcome = await settle(
      store.save({
        pluginInstanceId: id,
        handle: "v1",
        folder: await folderWith({ "w.bin": randomBytes(100_000) }),
        metadata,
      }),
    );
    const uploaded = rec.bytesPut((k) => k.includes("/blobs/"));
    expect(
      outcome instanceof Error
        ? `${outcome.name} after uploading ${uploaded} archive bytes: ${outcome.message}`
        : "saved",
      `metadata is ${compact} bytes of JSON`,
    ).toBe("saved");
    const ref = await store.resolve({ pluginInstanceId: id, handle: "v1" });
    expect(ref.metadata.trainingResults).toEqual(metadata.trainingResults);
  });

  it("a ref with every id at its maximum length (128 characters) stays under 1 KiB", async () => {
    const backend = createMemoryBackend();
    const [ws, inst, handle] = ["w", "p", "h"].map((c) => c.repeat(128)) as [
      string,
      string,
      string,
    ];
    const store = await createCheckpointStore({ backend, workspace: ws, fingerprintCache: false });
    const folder = await folderWith({ a: "a" });
    await store.save({ pluginInstanceId: inst, handle, folder, metadata: { modelClass: "M" } });
    await writeFile(join(folder, "a"), "b");
    await store.save({ pluginInstanceId: inst, handle, folder, metadata: { modelClass: "M" } });
    const sizes: number[] = [];
    for await (const info of backend.list(`${ws}/${inst}/refs/`)) sizes.push(info.size);
    expect(sizes.length).toBe(4);
    for (const size of sizes) expect(size).toBeLessThan(1024);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Exact, verified loads that leave nothing behind
// ---------------------------------------------------------------------------------------------

describe("guarantee 3: exact loads, nothing left behind", () => {
  it("a refused load into a target whose parents did not exist leaves no parent behind", async () => {
    const backend = createMemoryBackend();
    const store = await storeOn(backend, { fingerprintCache: false });
    const id = instance("parents");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.bin": randomBytes(5000) }),
    });
    const bytes = await readAll((await backend.get(ref.archivePath)).body);
    bytes[700] = (bytes[700] ?? 0) ^ 1; // same size, one byte off
    await backend.put(ref.archivePath, bytes);
    const top = out("never-created");
    const target = join(top, "a", "b", "restored");
    const outcome = await settle(store.fetch({ pluginInstanceId: id, handle: "v1", target }));
    expect(IntegrityError.isInstance(outcome), String(outcome)).toBe(true);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(top), `${top} was created by the refused load`).toBe(false);
  });

  it("every byte of a stored .tar.gz is checked, its gzip header included", async () => {
    const backend = createMemoryBackend();
    const store = await storeOn(backend, { fingerprintCache: false, compression: "gzip" });
    const id = instance("gzip");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ "w.txt": "hello ".repeat(1000) }),
    });
    const stored = await readAll((await backend.get(ref.archivePath)).body);
    const damaged = Buffer.from(stored);
    for (const i of [4, 5, 6, 7, 9]) damaged[i] = (damaged[i] ?? 0) ^ 0x5a; // MTIME and OS bytes
    expect(damaged.length).toBe(stored.length);
    expect(damaged.equals(stored)).toBe(false);
    await backend.put(ref.archivePath, damaged);
    const report = await store.verify({ pluginInstanceId: id });
    expect(
      report.bad.map((b) => b.archivePath),
      "5 of the stored archive's bytes differ from what the save wrote",
    ).toEqual([ref.archivePath]);
  });

  it("a target path too long for this machine is a ValidationError, and the healthy blob is not quarantined", async () => {
    // Paths that fit where the folder was saved, not where it is loaded: PATH_MAX (4096) is a
    // limit of the loading machine's path, not of the stored data.
    const backend = createMemoryBackend();
    const fp = join(work, `fp-${randomUUID().slice(0, 8)}`);
    const store = await storeOn(backend, { fingerprintCache: fp });
    const id = instance("pathmax");
    const seg = (c: string) => c.repeat(200);
    const dirs = Array.from({ length: 15 }, (_, i) => seg(String.fromCharCode(97 + i))).join("/");
    const rel = `${dirs}/${seg("z")}`;
    const folder = await mkdtemp(join(tmpdir(), "s-"));
    await mkdir(join(folder, dirs), { recursive: true });
    await writeFile(join(folder, rel), "weights");
    await sleep(30);
    expect(folder.length + 1 + rel.length).toBeLessThan(4096);
    try {
      const saved = await store.save({ pluginInstanceId: id, handle: "v1", folder });
      // A parent such that every directory fits under PATH_MAX and the file does not.
      let parent = await mkdtemp(join(work, "long-"));
      const temp = ".t.partial-XXXXXX".length;
      while (parent.length + 1 + temp + 1 + dirs.length + 1 + 200 <= 4095) {
        const room = 4095 - (parent.length + 1 + temp + 1 + dirs.length + 1 + 200);
        parent = join(parent, "p".repeat(Math.min(200, Math.max(1, room))));
      }
      expect(parent.length + 1 + temp + 1 + dirs.length).toBeLessThanOrEqual(4095);
      await mkdir(parent, { recursive: true });
      const outcome = await settle(
        store.fetch({ pluginInstanceId: id, handle: "v1", target: join(parent, "t") }),
      );
      expect(outcome instanceof Error).toBe(true);
      const quarantined = await keysUnder(backend, `ws/${id}/quarantine/`);
      expect(
        { integrityError: IntegrityError.isInstance(outcome), quarantined },
        String(outcome).slice(0, 300),
      ).toEqual({ integrityError: false, quarantined: [] });
      // And the blob is intact: a re-save of the unchanged folder should reuse it.
      const again = await store.save({ pluginInstanceId: id, handle: "v2", folder });
      expect(again.ref.archivePath).toBe(saved.ref.archivePath);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("aborting a save returns even when the server has stopped answering", async () => {
    const server = stallable(createMemoryBackend());
    const store = await storeOn(server.backend, { fingerprintCache: false });
    const controller = new AbortController();
    const saving = settle(
      store.save({
        pluginInstanceId: instance("stall"),
        handle: "v1",
        folder: await folderWith({ "w.bin": randomBytes(8 * 1024 * 1024) }),
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === "upload" && p.bytes > 1024 * 1024 && !controller.signal.aborted) {
            server.stall(); // the server stops answering…
            controller.abort(new Error("user gave up")); // …and the user cancels
          }
        },
      }),
    );
    const outcome = await Promise.race([saving, sleep(3000).then(() => "still waiting")]);
    expect(
      outcome instanceof Error ? outcome.name : outcome,
      `3 s after the abort; calls the server never answered: ${server.stalledCalls.join(", ")}`,
    ).toBe("CancelledError");
  });

  it("(S3) a dropped download resumes correctly against a server that ignores Range (200, whole object)", async () => {
    // HTTP lets a server (or a cache in front of it) answer a ranged GET with 200 and the whole
    // body. The S3 backend returns that body as if it started at the requested byte.
    const s3 = getS3TestConfig();
    const prefix = `${s3.prefix}review-range-${randomUUID()}/`;
    const direct = createS3Backend({
      bucket: s3.bucket,
      prefix,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const upstream = new URL(s3.endpoint);
    const isArchive = (url = "") => /\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\?|$)/.test(url);
    let whole: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const ranged: Array<string | undefined> = [];
    const proxy = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        const archive = req.method === "GET" && isArchive(req.url);
        if (archive) ranged.push(req.headers.range);
        if (archive && whole && req.headers.range) {
          res.writeHead(200, whole.headers); // Range ignored: the whole object again
          res.end(whole.body);
          return;
        }
        const up = request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            if (!archive || whole) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              return;
            }
            const body: Buffer[] = [];
            answer.on("data", (c: Buffer) => body.push(c));
            answer.on("end", () => {
              whole = { headers: answer.headers, body: Buffer.concat(body) };
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.write(whole.body.subarray(0, whole.body.length >> 1));
              setTimeout(() => res.socket?.destroy(), 50); // the connection drops halfway
            });
          },
        );
        up.on("error", () => res.destroy());
        up.end(Buffer.concat(parts));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxied = createS3Backend({
      bucket: s3.bucket,
      prefix,
      endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      const writer = await storeOn(direct, { fingerprintCache: false });
      const reader = await storeOn(proxied, { fingerprintCache: false });
      const id = instance("range");
      const data = randomBytes(3 * 1024 * 1024);
      await writer.save({
        pluginInstanceId: id,
        handle: "v1",
        folder: await folderWith({ "w.bin": data }),
      });
      const target = out("range");
      const outcome = await settle(reader.fetch({ pluginInstanceId: id, handle: "v1", target }));
      expect(ranged[0]).toBeUndefined();
      expect(ranged[1]).toMatch(/^bytes=\d+-$/); // it did resume with a range read
      expect({
        load:
          outcome instanceof Error ? `${outcome.name}: ${outcome.message.slice(0, 120)}` : "loaded",
        quarantined: await keysUnder(direct, `ws/${id}/quarantine/`),
      }).toEqual({ load: "loaded", quarantined: [] });
      expect((await readFile(join(target, "w.bin"))).equals(data)).toBe(true);
    } finally {
      await proxied.close?.();
      await direct.close?.();
      await new Promise((r) => proxy.close(r));
    }
  });

  it("(file backend) a FIFO planted at a manifest key or at the format marker fails fast, nothing created", async () => {
    const root = await mkdtemp(join(work, "fifo-store-"));
    const store = await createCheckpointStore({
      backend: createFileBackend({ root }),
      workspace: "ws",
      fingerprintCache: false,
    });
    const id = instance("fifo");
    const { ref } = await store.save({
      pluginInstanceId: id,
      handle: "v1",
      folder: await folderWith({ a: "a" }),
    });
    const manifest = join(root, ref.archivePath.replace(/\.tar$/, ".manifest"));
    await unlink(manifest);
    execFileSync("mkfifo", [manifest]);
    const target = out("fifo");
    const loaded = await Promise.race([
      settle(store.fetch({ pluginInstanceId: id, handle: "v1", target })),
      sleep(5000).then(() => "hung"),
    ]);
    expect(IntegrityError.isInstance(loaded), String(loaded)).toBe(true);
    expect(String(loaded)).toMatch(/not a regular file/);
    expect(existsSync(target)).toBe(false);
    const marker = join(root, "_trainable-store.json");
    await unlink(marker);
    execFileSync("mkfifo", [marker]);
    const opened = await Promise.race([
      settle(createCheckpointStore({ url: `file://${root}`, workspace: "ws" })),
      sleep(5000).then(() => "hung"),
    ]);
    expect(IntegrityError.isInstance(opened), String(opened)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. A store in another format version is refused, naming both
// ---------------------------------------------------------------------------------------------

describe("guarantee 6: format versions", () => {
  it("a format-1 store is refused for every workspace, and never stamped version 2", async () => {
    const backend = createMemoryBackend();
    // A format-1 store (no marker) holding checkpoints of workspace "acme".
    await backend.put(
      "acme/inst/refs/default/000000000000.json",
      Buffer.from('{"schemaVersion":1,"handle":"default"}'),
    );
    const before = await settle(createCheckpointStore({ backend, workspace: "acme" }));
    expect(IntegrityError.isInstance(before), String(before)).toBe(true); // documented: refused

    const other = await settle(
      createCheckpointStore({ backend, workspace: "other", fingerprintCache: false }),
    );
    if (!(other instanceof Error)) {
      await other.save({
        pluginInstanceId: "inst",
        handle: "v1",
        folder: await folderWith({ a: "a" }),
      });
    }
    const after = await settle(createCheckpointStore({ backend, workspace: "acme" }));
    expect({
      openedForAnotherWorkspace:
        other instanceof Error ? `refused: ${other.message.slice(0, 80)}` : "accepted",
      acmeAfterwards:
        after instanceof Error ? `refused: ${after.message.slice(0, 80)}` : "accepted",
    }).toEqual({
      openedForAnotherWorkspace: expect.stringMatching(/^refused: .*format version 1/),
      acmeAfterwards: expect.stringMatching(/^refused: .*format version 1/),
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Trusted archives, a gc that never leaves a dangling ref, leftovers collected
// ---------------------------------------------------------------------------------------------

describe("guarantee 4: the gc fence (pins + doom markers) and leftovers", () => {
  const TTL = 200;

  it("a save frozen past its pin's lifetime across two collections never publishes a ref to a deleted archive", async () => {
    // The first collection dooms and deletes the frozen save's blob; the second finds the blob
    // gone and removes its doom marker — the only thing the save checks after writing its refs.
    const backend = createMemoryBackend();
    const plain = await storeOn(backend, { fingerprintCache: false });
    const rec = controlled(frozenPins(backend));
    const frozen = await storeOn(rec.backend, { fingerprintCache: false, pinTtlMs: TTL });
    const collector = await storeOn(backend, { fingerprintCache: false, pinTtlMs: TTL });
    const id = instance("twogc");
    const beforeRefs = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
    const saving = frozen.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ "w.bin": randomBytes(50_000) }),
      setAsDefault: false,
    });
    await beforeRefs.reached;
    await sleep(2 * TTL); // its pin is stale now
    const gc1 = await collector.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect(gc1.deleted).toHaveLength(1);
    await collector.gc({ pluginInstanceId: id, minAgeMs: 0 });
    beforeRefs.open();
    const saved = await saving; // returns success, on a fresh copy of its blob
    expect(saved.ref.archivePath).not.toBe(gc1.deleted[0]);
    expect(await danglingHandles(plain, id)).toEqual([]);
  });

  it("setHandle's undo (its blob doomed under a stale pin) never undoes a concurrent save nor names a collected archive", async () => {
    const backend = createMemoryBackend();
    const opts = { fingerprintCache: false as const, refHistory: 1 };
    const plain = await storeOn(backend, opts);
    const rec = controlled(frozenPins(backend));
    const setter = await storeOn(rec.backend, { ...opts, pinTtlMs: TTL });
    const collector = await storeOn(backend, { ...opts, pinTtlMs: TTL });
    const id = instance("undo");
    const save = async (handle: string, f: string) =>
      plain.save({
        pluginInstanceId: id,
        handle,
        folder: await folderWith({ f }),
        setAsDefault: false,
      });
    const d0 = await save("h", "d0");
    const x = await save("tmp", "x");
    await plain.delete({ pluginInstanceId: id, handle: "tmp" }); // x's blob is unnamed now
    const write = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
    const setting = settle(setter.setHandle({ pluginInstanceId: id, handle: "h", ref: x.ref }));
    await write.reached; // setHandle checked x's blob and read h's current version (d0)
    const d1 = await save("h", "d1"); // a plain save lands and returns: h is d1
    await sleep(2 * TTL);
    await collector.gc({ pluginInstanceId: id, minAgeMs: 0 }); // collects x (stale pin) and d0 (unnamed)
    write.open();
    const outcome = await setting;
    expect(NotFoundError.isInstance(outcome), String(outcome)).toBe(true); // setHandle fails: fine
    const now = await plain.resolve({ pluginInstanceId: id, handle: "h" });
    const name = (digest: string) =>
      ({ [d0.ref.digest]: "d0", [d1.ref.digest]: "d1", [x.ref.digest]: "x" })[digest] ?? digest;
    expect(
      { h: name(now.digest), dangling: await danglingHandles(plain, id) },
      "h after a setHandle that failed",
    ).toEqual({ h: "d1", dangling: [] });
  });

  it("a plain save whose blob was doomed (stale pin) re-uploads without failing on a concurrent writer and leaves no ref dangling", async () => {
    const backend = createMemoryBackend();
    const plain = await storeOn(backend, { fingerprintCache: false });
    const rec = controlled(frozenPins(backend));
    const frozen = await storeOn(rec.backend, { fingerprintCache: false, pinTtlMs: TTL });
    const collector = await storeOn(backend, { fingerprintCache: false, pinTtlMs: TTL });
    const id = instance("redo");
    const firstRefs = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
    const saving = settle(
      frozen.save({
        pluginInstanceId: id,
        handle: "h",
        folder: await folderWith({ "w.bin": randomBytes(50_000) }),
      }),
    );
    await firstRefs.reached;
    await sleep(2 * TTL);
    const gc = await collector.gc({ pluginInstanceId: id, minAgeMs: 0 }); // dooms + deletes its blob
    expect(gc.deleted).toHaveLength(1);
    const reupload = rec.hold("put", (k) => k.endsWith(".tar"));
    firstRefs.open(); // h and default → the deleted blob; the save sees the doom and re-uploads
    await reupload.reached;
    await plain.save({
      pluginInstanceId: id,
      handle: "h",
      folder: await folderWith({ other: "writer" }),
      setAsDefault: false,
    });
    reupload.open();
    const outcome = await saving;
    expect({
      plainSave:
        outcome instanceof Error ? `${outcome.name}: ${outcome.message.slice(0, 90)}` : "saved",
      dangling: await danglingHandles(plain, id),
    }).toEqual({ plainSave: "saved", dangling: [] });
  });

  it("(file backend, clock skew) pin and archive ages come from the store's clock, not the writer's: a host 2 h behind does not lose its save", async () => {
    // docs: "Ages (minAgeMs, pin lifetimes) are measured on the store's clock". The file backend
    // stamps every object with `utimes(Date.now())` of the host that wrote it (a shared NFS store).
    const root = await mkdtemp(join(work, "skew-"));
    const collector = await createCheckpointStore({
      url: `file://${root}`,
      workspace: "ws",
      fingerprintCache: false,
    });
    const rec = controlled(createFileBackend({ root }));
    const writer = await storeOn(rec.backend, { fingerprintCache: false }); // default pin lifetime: 1 h
    const id = instance("skew");
    const realNow = Date.now;
    const beforeRefs = rec.hold("put", (k) => k.startsWith(`ws/${id}/refs/h/`));
    let saving: Promise<unknown>;
    Date.now = () => realNow() - 2 * 3600 * 1000; // the writing host's clock is 2 h behind
    try {
      saving = settle(
        writer.save({
          pluginInstanceId: id,
          handle: "h",
          folder: await folderWith({ "w.bin": randomBytes(20_000) }),
          setAsDefault: false,
        }),
      );
      await beforeRefs.reached; // pinned, archive and manifest uploaded seconds ago
    } finally {
      Date.now = realNow;
    }
    const gc = await collector.gc({ pluginInstanceId: id }); // defaults: minAgeMs 1 h, pins 1 h
    beforeRefs.open();
    await saving;
    expect(gc.deleted, "archives deleted while their save was in progress").toEqual([]);
  });

  it("(file backend) a temp file left by an earlier process with this pid (a restarted container) is swept", async () => {
    const root = await mkdtemp(join(work, "sweep-"));
    const store = await createCheckpointStore({
      backend: createFileBackend({ root }),
      workspace: "ws",
      fingerprintCache: false,
    });
    const id = instance("sweep");
    await store.save({ pluginInstanceId: id, handle: "v1", folder: await folderWith({ a: "a" }) });
    // What `put` leaves when its process is SIGKILLed: `.~tmp.{host}.{pid}.{random}`. In a container
    // restarted under the same hostname (a StatefulSet pod, `--hostname`), the new process often has
    // the same pid (1, or the same small number).
    const host =
      hostname()
        .replace(/[^A-Za-z0-9-]/g, "-")
        .slice(0, 64) || "host";
    const temp = join(root, "ws", id, "blobs", `.~tmp.${host}.${process.pid}.0123456789abcdef`);
    await writeFile(temp, randomBytes(64 * 1024));
    const twoDaysAgo = (Date.now() - 2 * 24 * 3600 * 1000) / 1000;
    await utimes(temp, twoDaysAgo, twoDaysAgo);
    const gc = await store.gc({ pluginInstanceId: id, minAgeMs: 0 });
    expect({ removed: gc.leftovers.removed, stillThere: existsSync(temp) }).toEqual({
      removed: 1,
      stillThere: false,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Unchanged re-saves: 0 bytes, O(files), never stale
// ---------------------------------------------------------------------------------------------

/** Counts the keys every `list` call yields. */
function countingLists(inner: RemoteBackend) {
  const counter = { listed: 0 };
  const backend: RemoteBackend = {
    ...inner,
    async *list(prefix, options) {
      for await (const info of inner.list(prefix, options)) {
        counter.listed++;
        yield info;
      }
    },
  };
  return { backend, counter };
}

const hasPython = !spawnSync("python3", ["-c", "import mmap"]).error;

describe("guarantee 5: unchanged re-saves (fingerprint cache)", () => {
  it("an unchanged re-save does not grow with the versions ever written", async () => {
    const { backend, counter } = countingLists(createMemoryBackend());
    const store = await storeOn(backend, { fingerprintCache: join(work, `fp-${randomUUID()}`) });
    const id = instance("history");
    const folder = await folderWith({ "w.bin": randomBytes(1000) });
    const resave = async () => {
      counter.listed = 0;
      const result = await store.save({ pluginInstanceId: id, handle: "h", folder });
      expect(result.uploadedBytes).toBe(0);
      return counter.listed;
    };
    await store.save({ pluginInstanceId: id, handle: "h", folder });
    const early = await resave();
    for (let i = 0; i < 300; i++) await resave();
    const late = await resave();
    expect(
      late,
      `keys listed by one unchanged re-save: ${early} after 2 saves, ${late} after 303`,
    ).toBeLessThan(early + 20);
  }, 120_000);

  it("a folder saved right after it was written (saveToFolder, then save) re-saves unchanged with 0 bytes", async () => {
    // The existing suites sleep 30 ms after writing a folder ("past the filesystem clock's tick")
    // before saving it; a trainer does not. A file whose ctime is in the save's clock tick is
    // never remembered, so the next save of the unchanged folder streams and uploads it all.
    const store = await storeOn(createMemoryBackend(), {
      fingerprintCache: join(work, `fp-${randomUUID()}`),
    });
    const uploads: number[] = [];
    for (let i = 0; i < 10; i++) {
      const folder = await mkdtemp(join(work, "fresh-"));
      await writeFile(join(folder, "config.json"), "{}");
      await writeFile(join(folder, "weights.bin"), randomBytes(1_000_000));
      await store.save({ pluginInstanceId: "fresh", handle: `a${i}`, folder });
      const again = await store.save({ pluginInstanceId: "fresh", handle: `b${i}`, folder });
      uploads.push(again.uploadedBytes);
    }
    expect(uploads, "bytes uploaded by 10 unchanged re-saves").toEqual(Array(10).fill(0));
  });

  it.runIf(hasPython)(
    "a file rewritten through a shared memory mapping (numpy.memmap) keeps its ctime, and its change is still saved",
    async () => {
      const backend = createMemoryBackend();
      const store = await storeOn(backend, { fingerprintCache: join(work, `fp-${randomUUID()}`) });
      const id = instance("mmap");
      const folder = await folderWith({ "weights.bin": Buffer.alloc(64 * 1024, "A") });
      const file = join(folder, "weights.bin");
      const writer: ChildProcess = spawn("python3", [join(FIXTURES, "mmap-writer.py"), file], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
      try {
        expect((await lines.next()).value).toBe("dirty");
        await sleep(30); // the mapping's first write is settled before the save starts
        const first = await store.save({ pluginInstanceId: id, handle: "v1", folder });
        const ctimeBefore = (await stat(file, { bigint: true })).ctimeNs;
        writer.stdin!.write("go\n");
        expect((await lines.next()).value).toBe("rewritten");
        const now = await readFile(file);
        expect(now.subarray(0, 2).toString()).toBe("BC");
        expect((await stat(file, { bigint: true })).ctimeNs).toBe(ctimeBefore);
        const second = await store.save({ pluginInstanceId: id, handle: "v2", folder });
        const target = out("mmap");
        await store.fetch({ pluginInstanceId: id, handle: "v2", target });
        const loaded = await readFile(join(target, "weights.bin"));
        expect(
          {
            sameDigest: second.ref.digest === first.ref.digest,
            uploadedBytes: second.uploadedBytes,
            loadedMatchesFile: loaded.equals(now),
          },
          "v2 was saved after the file changed",
        ).toEqual({
          sameDigest: false,
          uploadedBytes: expect.any(Number),
          loadedMatchesFile: true,
        });
      } finally {
        writer.stdin!.end("\n");
        writer.kill();
      }
    },
  );

  it("(root + loop mount) a same-second rewrite on a coarse-clock filesystem mounted inside the folder is still saved", async (ctx) => {
    // "its ctime was older than the clock of its own filesystem": the code reads one clock, the
    // folder's, and applies it to files on every filesystem below it.
    if (process.getuid?.() !== 0 || spawnSync("mkfs.ext2", ["-V"]).error) return ctx.skip();
    const folder = await mkdtemp(join(work, "nested-"));
    const data = join(folder, "data");
    const img = join(work, `ext2-${randomUUID().slice(0, 8)}.img`);
    execFileSync("truncate", ["-s", "8M", img]);
    execFileSync("mkfs.ext2", ["-q", "-F", "-I", "128", img], { stdio: "ignore" }); // 1 s timestamps
    await mkdir(data);
    if (spawnSync("mount", ["-o", "loop", img, data]).status !== 0) return ctx.skip();
    try {
      await rm(join(data, "lost+found"), { recursive: true, force: true });
      const store = await storeOn(createMemoryBackend(), {
        fingerprintCache: join(work, `fp-${randomUUID()}`),
      });
      const file = join(data, "w.bin");
      let first: Awaited<ReturnType<typeof store.save>> | undefined;
      for (let attempt = 0; attempt < 5 && first === undefined; attempt++) {
        while (Date.now() % 1000 > 100) await sleep(5); // start of a second
        await writeFile(file, Buffer.alloc(4096, "A"));
        const before = await stat(file, { bigint: true });
        const saved = await store.save({ pluginInstanceId: "nested", handle: "v1", folder });
        await writeFile(file, Buffer.alloc(4096, "B"), { flag: "r+" }); // same size, in place
        const after = await stat(file, { bigint: true });
        if (after.ctimeNs === before.ctimeNs && after.mtimeNs === before.mtimeNs) first = saved;
      }
      expect(first, "could not rewrite within one second").toBeDefined();
      const second = await store.save({ pluginInstanceId: "nested", handle: "v2", folder });
      expect(
        { sameDigest: second.ref.digest === first!.ref.digest },
        "data/w.bin went from AAAA… to BBBB… between the saves",
      ).toEqual({ sameDigest: false });
    } finally {
      spawnSync("umount", [data]);
      await rm(img, { force: true });
    }
  });

  it("renames, hard links, same-size rewrites with restored mtimes, NFC/NFD and case-variant names are all noticed and round-trip exactly", async () => {
    const backend = createMemoryBackend();
    const store = await storeOn(backend, { fingerprintCache: join(work, `fp-${randomUUID()}`) });
    const id = instance("tricks");
    const nfc = "caf\u00e9.bin";
    const nfd = "cafe\u0301.bin";
    const folder = await folderWith({
      [nfc]: "nfc!",
      [nfd]: "nfd!",
      "A.txt": "upper",
      "a.txt": "lower",
      "\uffff-last-bmp": "bmp",
      "\u{1f600}-astral": "astral",
      "d1/x.bin": "one",
      "d2/x.bin": "two",
      "zero.bin": "",
      "empty-dir": null,
    });
    await link(join(folder, "d1/x.bin"), join(folder, "hard.bin"));
    await sleep(30);
    let step = 0;
    const check = async (label: string, expectUpload: boolean) => {
      await sleep(30); // settled (see the next describe for what happens when not)
      const saved = await store.save({ pluginInstanceId: id, handle: `s${step++}`, folder });
      const target = out("tricks");
      await store.fetch({ pluginInstanceId: id, handle: saved.ref.handle, target });
      expect(await readTree(target), label).toEqual(await readTree(folder));
      if (!expectUpload) expect(saved.uploadedBytes, label).toBe(0);
      return saved;
    };
    const touchBack = async (path: string, st: { atime: Date; mtime: Date }) =>
      utimes(join(folder, path), st.atime, st.mtime);

    await check("first save", true);
    await check("unchanged", false);
    // Swap two same-size files by renames and give each the other's mtime.
    const [s1, s2] = [await stat(join(folder, "d1/x.bin")), await stat(join(folder, "d2/x.bin"))];
    await rename(join(folder, "d1/x.bin"), join(folder, "swap"));
    await rename(join(folder, "d2/x.bin"), join(folder, "d1/x.bin"));
    await rename(join(folder, "swap"), join(folder, "d2/x.bin"));
    await touchBack("d1/x.bin", s1);
    await touchBack("d2/x.bin", s2);
    await check("files swapped by rename, mtimes restored", true);
    // Swap two directories.
    await rename(join(folder, "d1"), join(folder, "swap"));
    await rename(join(folder, "d2"), join(folder, "d1"));
    await rename(join(folder, "swap"), join(folder, "d2"));
    await check("directories swapped", true);
    // Rewrite through one hard link, same size, mtime restored.
    const h = await stat(join(folder, "hard.bin"));
    await writeFile(join(folder, "hard.bin"), "TWO", { flag: "r+" });
    await touchBack("hard.bin", h);
    await check("rewritten through a hard link", true);
    // Same size, same mtime, NFD name.
    const n = await stat(join(folder, nfd));
    await writeFile(join(folder, nfd), "NFD!", { flag: "r+" });
    await touchBack(nfd, n);
    await check("NFD name rewritten, mtime restored", true);
    // Replace a file by a new inode with the same content size and mtime.
    const z = await stat(join(folder, "a.txt"));
    await writeFile(join(folder, "a.tmp"), "LOWER");
    await utimes(join(folder, "a.tmp"), z.atime, z.mtime);
    await rename(join(folder, "a.tmp"), join(folder, "a.txt"));
    await check("replaced by rename-over", true);
    await check("unchanged again", false);
  });

  it.runIf(existsSync("/dev/shm"))(
    "a folder on another filesystem than the cache dir (tmpfs) re-saves with 0 bytes and still notices a same-size, same-mtime rewrite",
    async (ctx) => {
      const shm = await mkdtemp("/dev/shm/review-");
      try {
        if ((await stat(shm)).dev === (await stat(work)).dev) return ctx.skip();
        const store = await storeOn(createMemoryBackend(), {
          fingerprintCache: join(work, `fp-${randomUUID()}`),
        });
        await writeFile(join(shm, "w.bin"), Buffer.alloc(10_000, 1));
        await sleep(30);
        const first = await store.save({ pluginInstanceId: "shm", handle: "v1", folder: shm });
        const again = await store.save({ pluginInstanceId: "shm", handle: "v2", folder: shm });
        expect(again.uploadedBytes).toBe(0);
        const st = await stat(join(shm, "w.bin"));
        await writeFile(join(shm, "w.bin"), Buffer.alloc(10_000, 2), { flag: "r+" });
        await utimes(join(shm, "w.bin"), st.atime, st.mtime);
        const changed = await store.save({ pluginInstanceId: "shm", handle: "v3", folder: shm });
        expect(changed.ref.digest).not.toBe(first.ref.digest);
      } finally {
        await rm(shm, { recursive: true, force: true });
      }
    },
  );

  it("(S3) empty folders, empty directories and zero-byte files round-trip, and re-save with 0 bytes", async () => {
    const backend = s3Backend("empty");
    try {
      const store = await storeOn(backend, { fingerprintCache: join(work, `fp-${randomUUID()}`) });
      const id = instance("empty");
      const empty = await folderWith({});
      const e1 = await store.save({ pluginInstanceId: id, handle: "empty", folder: empty });
      expect(e1.ref).toMatchObject({ manifestSize: 0, fileCount: 0, directoryCount: 0 });
      const t1 = out("empty");
      await store.fetch({ pluginInstanceId: id, handle: "empty", target: t1 });
      expect(await readdir(t1)).toEqual([]);
      expect(
        (await store.save({ pluginInstanceId: id, handle: "e2", folder: empty })).uploadedBytes,
      ).toBe(0);
      const zeros = await folderWith({ "z.bin": "", "d/zz.bin": "", "d/e": null, e: null });
      const z1 = await store.save({ pluginInstanceId: id, handle: "zeros", folder: zeros });
      expect(z1.ref).toMatchObject({ totalBytes: 0, fileCount: 2, directoryCount: 3 });
      const t2 = out("zeros");
      await store.fetch({ pluginInstanceId: id, handle: "zeros", target: t2 });
      expect(await readTree(t2)).toEqual(await readTree(zeros));
      expect(
        (await store.save({ pluginInstanceId: id, handle: "z2", folder: zeros })).uploadedBytes,
      ).toBe(0);
      expect((await store.verify({ pluginInstanceId: id })).bad).toEqual([]);
    } finally {
      await backend.close?.();
    }
  });
});
