/**
 * Remote faults: the S3 backend talks to radosgw through a fault-injecting proxy
 * (`hostile/fault-proxy.ts`) that answers 5xx, cuts connections mid-upload and mid-download,
 * stalls, and refuses connections ("server stopped"). Saves must retry with backoff through a
 * passing outage, fail with a clear retryable `RemoteError` through a lasting one, never leave
 * anything half-published (every ref points at a complete blob; the handle keeps its previous
 * checkpoint), fetches must fail cleanly (typed error, no target, no partial folder), and an
 * offline cache must keep serving what it has on disk while the server is unreachable.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { createModelCache } from "@trainable/cache";
import {
  type CheckpointRef,
  type InvocableResponse,
  NotFoundError,
  RemoteError,
  TrainableError,
  TrainableModel,
  type TrainPluginOutput,
} from "@trainable/core";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import type { S3BackendOptions } from "@trainable/storage/s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FaultProxy } from "./hostile/fault-proxy.js";
import { s3Backend, s3Settings } from "./hostile/s3.js";
import { type CaseRecord, recordCase } from "./report.js";

const MIB = 1024 * 1024;
const WORKSPACE = "faults";
const SUB = "remote-faults";

/** A model whose whole state is one file of bytes. */
class BytesModel extends TrainableModel {
  bytes = Buffer.alloc(0);
  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "weights.bin"), this.bytes);
  }
  async loadFromFolder(dir: string): Promise<void> {
    this.bytes = await readFile(join(dir, "weights.bin"));
  }
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return { status: { state: "succeeded" } };
  }
}
const modelOf = (size: number) => Object.assign(new BytesModel(), { bytes: randomBytes(size) });

let proxy: FaultProxy;
let direct: CheckpointStoreImpl;
let work: string;
const stores: CheckpointStoreImpl[] = [];

async function proxied(overrides: Partial<S3BackendOptions> = {}): Promise<CheckpointStoreImpl> {
  const store = await createCheckpointStore({
    backend: s3Backend(SUB, { endpoint: proxy.url, ...overrides }),
    workspace: WORKSPACE,
    tmpDir: join(work, "tmp"),
    fingerprintCache: false,
  });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "trainable-remote-faults-"));
  await mkdir(join(work, "tmp"));
  proxy = new FaultProxy(s3Settings(SUB).endpoint);
  await proxy.start();
  direct = await createCheckpointStore({
    backend: s3Backend(SUB),
    workspace: WORKSPACE,
    tmpDir: join(work, "tmp"),
    fingerprintCache: false,
  });
});

afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await direct?.close();
  await proxy?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs a case body, recording its outcome whether it passes or not. */
async function recorded(
  row: Omit<CaseRecord, "outcome" | "passed" | "backend">,
  body: () => Promise<string>,
): Promise<void> {
  let outcome = "";
  let passed = false;
  try {
    outcome = await body();
    passed = true;
  } catch (error) {
    outcome = `failed: ${(error as Error).message.slice(0, 400)}`;
    throw error;
  } finally {
    recordCase({ backend: "s3", outcome, passed, ...row });
  }
}

async function expectRejection(promise: Promise<unknown>): Promise<TrainableError> {
  try {
    await promise;
  } catch (error) {
    expect(TrainableError.isInstance(error), `a TrainableError, got ${String(error)}`).toBe(true);
    return error as TrainableError;
  }
  throw new Error("expected a rejection");
}

/** Every ref of an instance points at a blob that exists with the ref's size and fetches intact. */
async function everyRefComplete(pluginInstanceId: string): Promise<CheckpointRef[]> {
  const refs = await direct.list({ pluginInstanceId });
  for (const ref of refs) {
    const head = await direct.backend.head(ref.archivePath);
    expect(head, `blob of ${ref.handle}`).toBeDefined();
    expect(head?.size, `blob of ${ref.handle}`).toBe(ref.size);
    const model = await BytesModel.loadRemote({
      store: direct,
      pluginInstanceId,
      handle: ref.handle,
    });
    expect(model.bytes.length).toBeGreaterThan(0);
  }
  return refs;
}

async function unfinishedUploads(): Promise<number> {
  const s = s3Settings(SUB);
  const client = new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
  });
  try {
    const out = await client.send(
      new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: s.prefix }),
    );
    return out.Uploads?.length ?? 0;
  } finally {
    client.destroy();
  }
}

/** A message with digests elided, cut to a readable length. */
const short = (message: string) =>
  message
    .replace(/[0-9a-f]{64}/g, "<sha>")
    .replace(/ on s3:\/\/\S+ at http:\/\/\S+/, "")
    .slice(0, 220);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
/** A request for an archive (`blobs/{id}.tar`, store format version 2), not its manifest. */
const ARCHIVE_URL = /\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\?|$)/;

/** The archive keys stored under an instance. */
async function archivesOf(pluginInstanceId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of direct.backend.list(`${WORKSPACE}/${pluginInstanceId}/blobs/`)) {
    if (/\.tar(\.gz)?$/.test(info.key)) keys.push(info.key);
  }
  return keys.sort();
}

describe("remote faults through a fault-injecting proxy (S3)", () => {
  it("5xx for a while, then recovery: the save retries with backoff and succeeds", async () => {
    await recorded(
      {
        id: "remote-faults.5xx-recovery",
        method:
          "proxy answers 503 ServiceUnavailable to the next 3 requests (then 500 InternalError to the next 2 on a second save); saveRemote with maxAttempts 4, then load and compare",
        trials: 2,
      },
      async () => {
        const store = await proxied({ maxAttempts: 4 });
        const id = "flaky";
        const outcomes: string[] = [];
        for (const [status, times] of [
          [503, 3],
          [500, 2],
        ] as const) {
          proxy.clear();
          const start = proxy.log.length;
          proxy.add({ kind: "status", status, times });
          const model = modelOf(256 * 1024);
          const t0 = Date.now();
          const saved = await model.saveRemote({
            store,
            pluginInstanceId: id,
            handle: `v${status}`,
          });
          const ms = Date.now() - t0;
          const log = proxy.log.slice(start);
          const injected = log.filter((e) => e.fault === "status");
          expect(injected).toHaveLength(times);
          // The failed request was retried: same method and URL, answered by the server after.
          const first = injected[0]!;
          const attempts = log.filter((e) => e.method === first.method && e.url === first.url);
          expect(attempts.length).toBeGreaterThan(times);
          expect(attempts.at(-1)?.fault).toBeUndefined();
          const loaded = await BytesModel.loadRemote({
            store: direct,
            pluginInstanceId: id,
            handle: `v${status}`,
          });
          expect(loaded.bytes.equals(model.bytes)).toBe(true);
          expect(saved.ref.digest).toMatch(/^sha256:/);
          outcomes.push(
            `${status}×${times}: saved in ${ms} ms after ${attempts.length} attempts of ${first.method} (retry gaps ${gaps(attempts.map((a) => a.at)).join("/")} ms)`,
          );
        }
        proxy.clear();
        await everyRefComplete(id);
        return `${outcomes.join("; ")}; loaded back intact`;
      },
    );
  });

  it("5xx forever: a clear, retryable RemoteError within bounded time, nothing half-published", async () => {
    await recorded(
      {
        id: "remote-faults.5xx-forever",
        method:
          "proxy answers 503 to everything; saveRemote (maxAttempts 3), resolve and fetch must fail with RemoteError(retryable) in < 30 s; then the handle still resolves to its previous checkpoint",
        trials: 3,
      },
      async () => {
        const id = "down";
        const v1 = modelOf(128 * 1024);
        await v1.saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const store = await proxied({ maxAttempts: 3 });
        proxy.clear();
        proxy.add({ kind: "status", status: 503, times: Number.POSITIVE_INFINITY });
        const results: string[] = [];
        const ops: Array<[string, () => Promise<unknown>]> = [
          [
            "save",
            () => modelOf(128 * 1024).saveRemote({ store, pluginInstanceId: id, handle: "v2" }),
          ],
          ["resolve", () => store.resolve({ pluginInstanceId: id })],
          [
            "fetch",
            () =>
              store.fetch({
                pluginInstanceId: id,
                ref: undefined,
                target: join(work, "down-target"),
              }),
          ],
        ];
        for (const [name, op] of ops) {
          const t0 = Date.now();
          const error = await expectRejection(op());
          const ms = Date.now() - t0;
          expect(RemoteError.isInstance(error), `${name}: ${error.message}`).toBe(true);
          expect((error as RemoteError).retryable, name).toBe(true);
          expect((error as RemoteError).status, name).toBe(503);
          expect(error.message, name).toMatch(/\(HTTP 503\)/);
          expect(ms, name).toBeLessThan(30_000);
          results.push(`${name}: ${ms} ms`);
        }
        proxy.clear();
        const current = await direct.resolve({ pluginInstanceId: id });
        expect(current.digest).toBe(
          (await direct.resolve({ pluginInstanceId: id, handle: "v1" })).digest,
        );
        const refs = await everyRefComplete(id);
        expect(refs.map((r) => r.handle).sort()).toEqual(["default", "v1"]);
        expect(await readdir(join(work, "tmp"))).toEqual([]);
        return `RemoteError (retryable, status 503, message naming the operation, key and HTTP 503) for ${results.join(", ")}; default still v1, no v2 ref, every ref complete`;
      },
    );
  });

  it("connection cut mid-upload (single PUT, multipart part, ref write): save fails, nothing half-published", async () => {
    await recorded(
      {
        id: "remote-faults.cut-upload",
        method:
          "proxy destroys the connection after 1 MiB of the blob PUT (3 MiB, single PUT), during part 2 of a multipart upload (12 MiB, 5 MiB parts), and during the write of the default ref; each time: RemoteError, previous checkpoint still current and intact, every ref complete, no multipart upload left",
        trials: 3,
      },
      async () => {
        const id = "cut-up";
        const v1 = modelOf(256 * 1024);
        await v1.saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const v1Digest = (await direct.resolve({ pluginInstanceId: id })).digest;
        const archivesBefore = await archivesOf(id);
        const notes: string[] = [];

        // 1. Single PUT of the blob, cut after 1 MiB on every attempt.
        const single = await proxied({ maxAttempts: 2 });
        proxy.clear();
        proxy.add({
          kind: "cutUpload",
          afterBytes: MIB,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "PUT" && ARCHIVE_URL.test(url),
        });
        const big = modelOf(3 * MIB);
        let error = await expectRejection(
          big.saveRemote({ store: single, pluginInstanceId: id, handle: "v2" }),
        );
        expect(RemoteError.isInstance(error), error.message).toBe(true);
        expect(proxy.faults("cutUpload").length).toBeGreaterThanOrEqual(1);
        notes.push(`single PUT: ${error.name} "${short(error.message)}"`);

        // 2. Multipart upload, part 2 cut.
        const multi = await proxied({ maxAttempts: 2, partSize: 5 * MIB });
        proxy.clear();
        proxy.add({
          kind: "cutUpload",
          afterBytes: MIB,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "PUT" && /partNumber=2(&|$)/.test(url),
        });
        const huge = modelOf(12 * MIB);
        error = await expectRejection(
          huge.saveRemote({ store: multi, pluginInstanceId: id, handle: "v3" }),
        );
        expect(RemoteError.isInstance(error), error.message).toBe(true);
        expect(proxy.faults("cutUpload").length).toBeGreaterThanOrEqual(1);
        notes.push(`multipart: ${error.name} "${short(error.message)}"`);
        proxy.clear();
        expect(await unfinishedUploads(), "aborted multipart uploads").toBe(0);
        // The failed saves left no archive (each upload goes to a fresh key: none completed).
        expect(await archivesOf(id), "no archive of a failed save").toEqual(archivesBefore);

        // 3. The blob goes through, the write of the default ref is cut.
        const refCut = await proxied({ maxAttempts: 2 });
        proxy.add({
          kind: "cutUpload",
          afterBytes: 10,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "PUT" && url.includes("/refs/default/"),
        });
        const v4 = modelOf(64 * 1024);
        error = await expectRejection(
          v4.saveRemote({ store: refCut, pluginInstanceId: id, handle: "v4" }),
        );
        expect(RemoteError.isInstance(error), error.message).toBe(true);
        proxy.clear();
        notes.push(`default ref write: ${error.name}`);

        expect((await direct.resolve({ pluginInstanceId: id })).digest, "default unchanged").toBe(
          v1Digest,
        );
        const reloaded = await BytesModel.loadRemote({ store: direct, pluginInstanceId: id });
        expect(reloaded.bytes.equals(v1.bytes)).toBe(true);
        const refs = await everyRefComplete(id);
        const handles = refs.map((r) => r.handle).sort();
        expect(handles).not.toContain("v2");
        expect(handles).not.toContain("v3");
        return `${notes.join("; ")}; default still v1 and loads intact; refs ${handles.join(", ")} all complete; no multipart upload left`;
      },
    );
  });

  it("connection cut mid-download: resumed to the exact bytes, or a typed error with nothing left", async () => {
    await recorded(
      {
        id: "remote-faults.cut-download",
        method:
          "proxy destroys the connection of every archive GET (3 MiB blob) (A) after 1 MiB: store.fetch, loadRemote and loadRemote through a disk cache must resume with range reads and return the exact bytes; (B) after 64 KiB (more drops than the 5 resumes allowed): all three must fail with RemoteError/IntegrityError, leaving no target, temp or cache entry; then the fetch works once the proxy stops cutting",
        trials: 6,
      },
      async () => {
        const id = "cut-down";
        const model = modelOf(3 * MIB);
        await model.saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const store = await proxied({ maxAttempts: 2 });
        const out = join(work, "cut-down");
        await mkdir(out);
        const ways = (cache: ReturnType<typeof createModelCache>, target: string) =>
          [
            [
              "fetch",
              async () => {
                await store.fetch({ pluginInstanceId: id, target });
                return readFile(join(target, "weights.bin"));
              },
            ],
            [
              "loadRemote",
              async () => (await BytesModel.loadRemote({ store, pluginInstanceId: id })).bytes,
            ],
            [
              "cached loadRemote",
              async () =>
                (await BytesModel.loadRemote({ store, pluginInstanceId: id, cache })).bytes,
            ],
          ] as Array<[string, () => Promise<Buffer>]>;
        const archiveGets = () =>
          proxy.log.filter((e) => e.method === "GET" && ARCHIVE_URL.test(e.url)).length;

        // (A) Dropped after 1 MiB each time: every load resumes where it stopped.
        const resumed: string[] = [];
        proxy.clear();
        proxy.add({
          kind: "cutDownload",
          afterBytes: MIB,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "GET" && ARCHIVE_URL.test(url),
        });
        const cacheA = createModelCache({
          store,
          diskDir: join(work, "cut-down-cache-a"),
          logger: { warn() {} },
        });
        for (const [name, load] of ways(cacheA, join(out, "resumed"))) {
          const gets = archiveGets();
          const cuts = proxy.faults("cutDownload").length;
          const bytes = await load();
          expect(bytes.equals(model.bytes), `${name}: the exact bytes`).toBe(true);
          const dropped = proxy.faults("cutDownload").length - cuts;
          expect(dropped, `${name}: connections cut`).toBeGreaterThanOrEqual(2);
          resumed.push(`${name} (${dropped} cuts, ${archiveGets() - gets} GETs)`);
        }
        await cacheA.close();
        await rm(join(out, "resumed"), { recursive: true, force: true });

        // (B) Dropped after 64 KiB each time: more drops than resumes allowed.
        proxy.clear();
        proxy.add({
          kind: "cutDownload",
          afterBytes: 64 * 1024,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "GET" && ARCHIVE_URL.test(url),
        });
        const diskDir = join(work, "cut-down-cache-b");
        const cacheB = createModelCache({ store, diskDir, logger: { warn() {} } });
        const errors: string[] = [];
        for (const [name, load] of ways(cacheB, join(out, "checkpoint"))) {
          const error = await expectRejection(load());
          expect(["REMOTE", "INTEGRITY"], `${name}: ${error.code} ${error.message}`).toContain(
            error.code,
          );
          errors.push(`${name}: ${error.name} "${short(error.message)}"`);
        }
        await cacheB.close();
        proxy.clear();
        expect(await readdir(out), "no target, no .partial folder").toEqual([]);
        expect(await readdir(join(work, "tmp")), "no temp folder").toEqual([]);
        const cached = await readdir(diskDir, { recursive: true }).catch(() => [] as string[]);
        expect(
          cached.filter((n) => /[0-9a-f]{64}(\.complete\.json)?$/.test(n)),
          "nothing cached",
        ).toEqual([]);
        // And once the network is back, the same fetch works.
        await store.fetch({ pluginInstanceId: id, target: join(out, "checkpoint") });
        expect((await readFile(join(out, "checkpoint", "weights.bin"))).equals(model.bytes)).toBe(
          true,
        );
        return `(A) cut after 1 MiB: resumed with range reads to the exact bytes: ${resumed.join(", ")}; (B) cut after 64 KiB: ${errors.join("; ")}; no target, temp or cache entry; the fetch succeeds once the proxy stops cutting`;
      },
    );
  });

  it("S3 server stopped (connections refused): a retryable RemoteError, nothing changed", async () => {
    await recorded(
      {
        id: "remote-faults.refused",
        method:
          "proxy stops listening: save, resolve and fetch must fail with a retryable RemoteError naming the connection problem within 30 s; the handle is unchanged after",
        trials: 3,
      },
      async () => {
        const id = "stopped";
        await modelOf(64 * 1024).saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const store = await proxied({ maxAttempts: 2 });
        await proxy.refuse();
        const notes: string[] = [];
        try {
          const ops: Array<[string, () => Promise<unknown>]> = [
            ["save", () => modelOf(1024).saveRemote({ store, pluginInstanceId: id, handle: "v2" })],
            ["resolve", () => store.resolve({ pluginInstanceId: id })],
            [
              "fetch",
              () => store.fetch({ pluginInstanceId: id, target: join(work, "stopped-target") }),
            ],
          ];
          for (const [name, op] of ops) {
            const t0 = Date.now();
            const error = await expectRejection(op());
            expect(RemoteError.isInstance(error), `${name}: ${error.message}`).toBe(true);
            expect((error as RemoteError).retryable, name).toBe(true);
            expect(error.message, name).toMatch(/could not reach the server \(ECONNREFUSED\)/);
            expect(Date.now() - t0, name).toBeLessThan(30_000);
            notes.push(`${name}: ${Date.now() - t0} ms`);
          }
        } finally {
          await proxy.accept();
        }
        expect((await direct.list({ pluginInstanceId: id })).map((r) => r.handle).sort()).toEqual([
          "default",
          "v1",
        ]);
        expect(await readdir(work).then((n) => n.filter((x) => x.includes("stopped")))).toEqual([]);
        return `RemoteError (retryable, "could not reach the server (ECONNREFUSED)") for ${notes.join(", ")}; handles unchanged, no target`;
      },
    );
  });

  it("stalled S3 server: the socket inactivity timeout (or the caller's signal) ends the wait", async () => {
    await recorded(
      {
        id: "remote-faults.stalled",
        method:
          "proxy accepts requests and never answers, or stops sending the archive (3 MiB) after 1 MiB of every response, or before its first byte: with socketTimeoutMs 1500, resolve must fail with a retryable RemoteError within 15 s, a fetch with AbortSignal.timeout(1 s) with CancelledError, a fetch stalled after 1 MiB each time must resume to the exact bytes within 15 s, a fetch stalled before any byte must fail with a retryable RemoteError within 30 s (5 resumes); no target left",
        trials: 4,
      },
      async () => {
        const id = "stalled";
        const stored = modelOf(3 * MIB);
        await stored.saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const store = await proxied({ maxAttempts: 2, socketTimeoutMs: 1_500 });
        const target = join(work, "stalled-target");
        const notes: string[] = [];

        proxy.clear();
        proxy.add({ kind: "stall", times: Number.POSITIVE_INFINITY });
        let t0 = Date.now();
        let error = await expectRejection(store.resolve({ pluginInstanceId: id }));
        expect(RemoteError.isInstance(error), error.message).toBe(true);
        expect((error as RemoteError).retryable).toBe(true);
        expect(error.message).toMatch(/stopped answering \(TimeoutError\)/);
        expect(Date.now() - t0).toBeLessThan(15_000);
        notes.push(`stalled request: RemoteError after ${Date.now() - t0} ms`);

        t0 = Date.now();
        error = await expectRejection(
          store.fetch({ pluginInstanceId: id, target, signal: AbortSignal.timeout(1_000) }),
        );
        expect(error.code, error.message).toBe("CANCELLED");
        expect(Date.now() - t0).toBeLessThan(10_000);
        notes.push(`with a 1 s signal: CancelledError after ${Date.now() - t0} ms`);

        proxy.clear();
        proxy.add({
          kind: "stallDownload",
          afterBytes: MIB,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "GET" && ARCHIVE_URL.test(url),
        });
        t0 = Date.now();
        await store.fetch({ pluginInstanceId: id, target });
        const resumedMs = Date.now() - t0;
        const stalls = proxy.faults("stallDownload").length;
        proxy.clear();
        expect(
          (await readFile(join(target, "weights.bin"))).equals(stored.bytes),
          "the exact bytes",
        ).toBe(true);
        expect(stalls, "stalled responses").toBeGreaterThanOrEqual(2);
        expect(resumedMs).toBeLessThan(15_000);
        await rm(target, { recursive: true, force: true });
        notes.push(
          `download stalled after 1 MiB each time: resumed to the exact bytes after ${stalls} stalls in ${resumedMs} ms`,
        );

        proxy.add({
          kind: "stallDownload",
          afterBytes: 0,
          times: Number.POSITIVE_INFINITY,
          match: ({ method, url }) => method === "GET" && ARCHIVE_URL.test(url),
        });
        t0 = Date.now();
        error = await expectRejection(store.fetch({ pluginInstanceId: id, target }));
        proxy.clear();
        expect(RemoteError.isInstance(error), error.message).toBe(true);
        expect((error as RemoteError).retryable).toBe(true);
        expect(Date.now() - t0).toBeLessThan(30_000);
        notes.push(
          `download stalled before its first byte each time: RemoteError after ${Date.now() - t0} ms ("${short(error.message)}")`,
        );
        expect(await readdir(work).then((n) => n.filter((x) => x.includes("stalled")))).toEqual([]);
        return `${notes.join("; ")}; no target or partial folder`;
      },
    );
  });

  it("offline mode keeps serving models cached on disk while the server refuses everything", async () => {
    await recorded(
      {
        id: "remote-faults.offline",
        method:
          "load v1 once through an online cache with a disk dir, stop the proxy; a new offline cache on that disk dir must serve v1 (and v1 by handle), an unknown handle offline must fail with NotFoundError; an online cache (revalidateMs 0) with staleIfErrorMs 0 must fail with RemoteError, and one with the default stale-if-error must serve the last verified v1 from disk (twice: stats().staleServed counted, one warning)",
        trials: 5,
      },
      async () => {
        const id = "offline";
        const model = modelOf(512 * 1024);
        await model.saveRemote({ store: direct, pluginInstanceId: id, handle: "v1" });
        const store = await proxied({ maxAttempts: 2 });
        const diskDir = join(work, "offline-cache");
        const online = createModelCache({ store, diskDir, logger: { warn() {} } });
        const first = await BytesModel.loadRemote({ store, pluginInstanceId: id, cache: online });
        await BytesModel.loadRemote({ store, pluginInstanceId: id, handle: "v1", cache: online });
        expect(first.bytes.equals(model.bytes)).toBe(true);
        await online.close();

        await proxy.refuse();
        try {
          const offline = createModelCache({
            store,
            diskDir,
            offline: true,
            logger: { warn() {} },
          });
          const served = await BytesModel.loadRemote({
            store,
            pluginInstanceId: id,
            cache: offline,
          });
          expect(served.bytes.equals(model.bytes)).toBe(true);
          const byHandle = await BytesModel.loadRemote({
            store,
            pluginInstanceId: id,
            handle: "v1",
            cache: offline,
          });
          expect(byHandle.bytes.equals(model.bytes)).toBe(true);
          const unknown = await expectRejection(
            BytesModel.loadRemote({
              store,
              pluginInstanceId: id,
              handle: "never-loaded",
              cache: offline,
            }),
          );
          expect(NotFoundError.isInstance(unknown), unknown.message).toBe(true);
          expect(unknown.message).toMatch(/Offline/);
          await offline.close();

          // An online cache that must not serve stale (staleIfErrorMs: 0) fails...
          const strict = createModelCache({
            store,
            diskDir,
            revalidateMs: 0,
            staleIfErrorMs: 0,
            logger: { warn() {} },
          });
          const down = await expectRejection(
            BytesModel.loadRemote({ store, pluginInstanceId: id, cache: strict }),
          );
          expect(RemoteError.isInstance(down), down.message).toBe(true);
          await strict.close();
          // ...and one with the default (stale-if-error) serves the last verified version from
          // its disk record, counted and warned about once.
          const warnings: string[] = [];
          const lenient = createModelCache({
            store,
            diskDir,
            revalidateMs: 0,
            logger: { warn: (m: string) => warnings.push(m) },
          });
          const stale = await BytesModel.loadRemote({
            store,
            pluginInstanceId: id,
            cache: lenient,
          });
          expect(stale.bytes.equals(model.bytes), "stale-if-error served v1").toBe(true);
          await BytesModel.loadRemote({ store, pluginInstanceId: id, cache: lenient });
          expect(lenient.stats().staleServed, "counted").toBeGreaterThanOrEqual(1);
          expect(warnings, "warned once per failure streak").toHaveLength(1);
          await lenient.close();
          return `offline cache served default and v1 from disk (512 KiB, bytes equal) with the server refusing connections; unknown handle: NotFoundError "${unknown.message.slice(0, 80)}…"; online cache with staleIfErrorMs 0: RemoteError "${short(down.message)}"; online cache with the default stale-if-error: served the last verified v1 from its disk record (staleServed ${lenient.stats().staleServed}, 1 warning: "${short(warnings[0] ?? "")}")`;
        } finally {
          await proxy.accept();
        }
      },
    );
  });
});
