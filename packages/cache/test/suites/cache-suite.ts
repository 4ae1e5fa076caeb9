import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  type CheckpointManifest,
  type CheckpointRef,
  type CheckpointStore,
  IntegrityError,
  manifestDigest,
  NotFoundError,
  RemoteError,
  ValidationError,
} from "@trainable/core";
import { HOST } from "@trainable/internal-node";
import type { CheckpointStoreImpl } from "@trainable/storage";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readMarker, writeMarker } from "../../src/disk/entry-marker.js";
import {
  type CreateModelCacheOptions,
  createModelCache,
  type ModelCacheImpl,
  type ModelLoadOptions,
} from "../../src/index.js";
import { CounterModel, loadCounter } from "../helpers/counter-model.js";
import {
  type BackendKind,
  createStoreLocation,
  forbiddenStore,
  type StoreLocation,
  unreachable,
} from "../helpers/stores.js";

const WS = "ws";
/** The disk layout this version writes (`<diskDir>/v2/…`). */
const LAYOUT = "v2";
const quiet = { warn: () => {} };
/**
 * How a ref whose counts disagree with its manifest is refused: by the store while reading
 * the manifest ("its manifest lists"), or by the cache's own check ("the ref says").
 */
const FORGED_REF = /the ref says|its manifest lists/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");

/** Sets a file's mtime to the nanosecond (`utimes` takes doubles: not exact). GNU touch. */
function setMtimeNs(path: string, mtimeNs: bigint): void {
  const ns = String(mtimeNs % 1_000_000_000n).padStart(9, "0");
  const r = spawnSync("touch", ["-m", "-d", `@${mtimeNs / 1_000_000_000n}.${ns}`, path]);
  if (r.status !== 0) throw new Error(`touch failed: ${r.stderr}`);
}

/** The behaviours of the cache, against one kind of backend. */
export function describeCacheSuite(kind: BackendKind): void {
  describe(`createModelCache on the ${kind} backend`, () => {
    let loc: StoreLocation;
    let store: CheckpointStoreImpl;
    /** Another store instance on the same data: saves through it are unknown to the cache. */
    let writer: CheckpointStoreImpl;
    let diskDir: string;
    let caches: ModelCacheImpl[];
    let n = 0;
    let id: string;

    beforeAll(async () => {
      loc = await createStoreLocation(kind);
      store = await loc.open({ workspace: WS });
      writer = await loc.open({ workspace: WS });
    });
    afterAll(async () => {
      await store?.close();
      await writer?.close();
      await loc?.cleanup();
    });
    beforeEach(async () => {
      CounterModel.reset();
      diskDir = await mkdtemp(join(tmpdir(), "trainable-cache-disk-"));
      caches = [];
      id = `inst-${process.pid}-${++n}-${Date.now().toString(36)}`;
    });
    afterEach(async () => {
      for (const cache of caches) await cache.close();
      await rm(diskDir, { recursive: true, force: true });
    });

    function newCache(options: Partial<CreateModelCacheOptions> = {}): ModelCacheImpl {
      const cache = createModelCache({ store, diskDir, logger: quiet, ...options });
      caches.push(cache);
      return cache;
    }

    async function save(
      version: string,
      options: {
        handle?: string;
        setAsDefault?: boolean;
        payloadBytes?: number;
        via?: CheckpointStore;
      } = {},
    ): Promise<CheckpointRef> {
      const model = CounterModel.withVersion(version, options.payloadBytes ?? 0);
      const result = await model.saveRemote({
        store: options.via ?? writer,
        pluginInstanceId: id,
        handle: options.handle,
        setAsDefault: options.setAsDefault,
      });
      return result.ref;
    }

    const load = (cache: ModelCacheImpl, handle?: string) =>
      CounterModel.loadRemote({ store: cache.store, pluginInstanceId: id, handle, cache });

    /** Options for the leasing API (`use`/`acquire`) and `getOrLoad`, keyed by class identity. */
    const spec = (handle?: string, extra: Partial<ModelLoadOptions<CounterModel>> = {}) => ({
      pluginInstanceId: id,
      handle,
      modelClass: CounterModel,
      load: loadCounter,
      ...extra,
    });

    /** A model obtained with a lease that is released at once (a request that has ended). */
    const leased = (cache: ModelCacheImpl, handle?: string) =>
      cache.use(spec(handle), (model) => model);

    function entryDir(ref: CheckpointRef): string {
      return join(diskDir, LAYOUT, WS, id, ref.digest.slice(7));
    }

    /** The checkpoint's manifest, from the store (verified against the ref's digest). */
    function manifestOf(ref: CheckpointRef): Promise<CheckpointManifest> {
      return store.readManifest({ pluginInstanceId: id, ref });
    }

    const bytesOf = (manifest: CheckpointManifest) =>
      manifest.files.reduce((sum, f) => sum + f.size, 0);

    describe("memory", () => {
      it("loads once, then serves the same instance from memory", async () => {
        await save("v1");
        const cache = newCache();
        const a = await load(cache);
        const b = await load(cache);
        expect(a.version).toBe("v1");
        expect(b).toBe(a);
        expect(cache.stats()).toMatchObject({
          hits: 1,
          misses: 1,
          loads: 1,
          downloads: 1,
          diskHits: 0,
        });
        expect(CounterModel.loads).toBe(1);
      });

      it("16 concurrent loadRemote calls of an uncached version: one download, one load, one instance", async () => {
        const ref = await save("v1", { payloadBytes: 256 * 1024 });
        const cache = newCache();
        CounterModel.loadDelayMs = 30;
        const models = await Promise.all(Array.from({ length: 16 }, () => load(cache)));
        expect(new Set(models).size).toBe(1);
        expect(models[0]?.version).toBe("v1");
        expect(cache.stats()).toMatchObject({
          downloads: 1,
          loads: 1,
          misses: 1,
          hits: 15,
          revalidations: 1,
          bytesDownloaded: ref.size,
        });
        expect(CounterModel.loads).toBe(1);
      });

      it("keys by version and kind: the same checkpoint under two handles is one model", async () => {
        const ref = await save("v1", { handle: "v1" }); // also moves default
        const cache = newCache();
        const viaHandle = await load(cache, "v1");
        const viaDefault = await load(cache);
        expect(viaDefault).toBe(viaHandle);
        const other = await cache.getOrLoad({
          pluginInstanceId: id,
          kind: "Other",
          load: loadCounter,
        });
        expect(other).not.toBe(viaHandle);
        expect(other.loadedDigest).toBe(ref.digest);
        expect(cache.stats()).toMatchObject({ loads: 2, downloads: 1 });
      });

      it("callers passing different kinds (e.g. class + config) never share an instance", async () => {
        await save("v1");
        const cache = newCache();
        const get = (kind?: string) =>
          cache.getOrLoad({ pluginInstanceId: id, kind, load: loadCounter });
        const a1 = await get('CounterModel:{"tag":"a"}');
        const b = await get('CounterModel:{"tag":"b"}');
        const plain = await get("CounterModel");
        const a2 = await get('CounterModel:{"tag":"a"}');
        expect(a2).toBe(a1);
        expect(new Set([a1, b, plain]).size).toBe(3);
        const [x, y] = await Promise.all([get("K:x"), get("K:y")]);
        expect(x).not.toBe(y);
        expect(cache.stats()).toMatchObject({ loads: 5, downloads: 1 });
      });

      it("a failed load is not cached and does not poison later loads", async () => {
        await save("v1");
        const cache = newCache();
        CounterModel.failNextLoads = 1;
        CounterModel.loadDelayMs = 20;
        const results = await Promise.allSettled(Array.from({ length: 4 }, () => load(cache)));
        expect(results.every((r) => r.status === "rejected")).toBe(true);
        expect(String((results[0] as PromiseRejectedResult).reason)).toContain(
          "load failed on purpose",
        );
        const model = await load(cache);
        expect(model.version).toBe("v1");
        expect(cache.stats()).toMatchObject({ loads: 2, loadErrors: 1, downloads: 1, diskHits: 1 });
        expect(await load(cache)).toBe(model);
      });

      it("evicts by count, least recently used first, and disposes the evicted model", async () => {
        for (const v of ["a", "b", "c"]) await save(v, { handle: v, setAsDefault: false });
        const cache = newCache({ maxEntries: 2 });
        const a = await leased(cache, "a");
        const b = await leased(cache, "b");
        expect(await leased(cache, "a")).toBe(a); // a is now more recent than b
        const c = await leased(cache, "c");
        expect(b.disposed).toBe(true);
        expect(a.disposed).toBe(false);
        expect(c.disposed).toBe(false);
        expect(cache.stats()).toMatchObject({ evictions: 1, disposals: 1 });
        expect(CounterModel.disposals).toBe(1);
        const b2 = await leased(cache, "b");
        expect(b2).not.toBe(b);
        expect(b2.version).toBe("b");
        expect(cache.stats()).toMatchObject({ loads: 4, downloads: 3, diskHits: 1, evictions: 2 });
      });

      it("evicts by bytes (checkpoint sizes), and serves a model larger than maxBytes without keeping it", async () => {
        const refs: CheckpointRef[] = [];
        for (const v of ["a", "b", "c"])
          refs.push(await save(v, { handle: v, setAsDefault: false, payloadBytes: 20_000 }));
        const size = refs[0]!.size;
        const cache = newCache({ maxBytes: 2 * size + 1 });
        const a = await leased(cache, "a");
        await leased(cache, "b");
        await leased(cache, "c");
        expect(a.disposed).toBe(true);
        expect(cache.stats().evictions).toBe(1);

        const tiny = newCache({ maxBytes: Math.floor(size / 2) });
        const x = await leased(tiny, "a");
        const y = await leased(tiny, "a");
        expect(y).not.toBe(x);
        expect(tiny.stats()).toMatchObject({ loads: 2, hits: 0 });
        // Never kept: each is disposed when its only lease is released.
        expect(x.disposed).toBe(true);
        expect(y.disposed).toBe(true);
      });

      it("clear() and close() dispose every model once released; a closed cache refuses work", async () => {
        await save("v1");
        const cache = newCache();
        const a = await leased(cache);
        cache.clear();
        expect(a.disposed).toBe(true);
        const held = await cache.acquire(spec());
        const b = held.model;
        expect(b).not.toBe(a);
        await cache.close();
        expect(b.disposed).toBe(false); // still leased
        held.release();
        expect(b.disposed).toBe(true);
        held.release(); // a second release does nothing
        expect(cache.stats().disposals).toBe(2);
        await expect(load(cache)).rejects.toThrow(/closed/);
        await expect(cache.use(spec(), (m) => m)).rejects.toThrow(/closed/);
      });

      it("validates inputs before any I/O", async () => {
        const cache = newCache({ store: forbiddenStore(WS) as CheckpointStoreImpl });
        await expect(
          cache.getOrLoad({ pluginInstanceId: "../etc", load: loadCounter }),
        ).rejects.toSatisfy(
          (e) => ValidationError.isInstance(e) && /pluginInstanceId/.test((e as Error).message),
        );
        await expect(
          cache.getOrLoad({ pluginInstanceId: "ok", handle: "a/b", load: loadCounter }),
        ).rejects.toSatisfy(
          (e) => ValidationError.isInstance(e) && /handle/.test((e as Error).message),
        );
        await expect(
          cache.getOrLoad({ pluginInstanceId: "ok", load: undefined as never }),
        ).rejects.toSatisfy(
          (e) => ValidationError.isInstance(e) && /load/.test((e as Error).message),
        );
      });
    });

    describe("revalidation", () => {
      it("a retrain moves default: with staleWhileRevalidateMs 0, every call after revalidateMs waits and gets the new model (injected clock)", async () => {
        const r1 = await save("v1");
        let t = 1_000_000;
        const cache = newCache({ revalidateMs: 1000, staleWhileRevalidateMs: 0, now: () => t });
        const a = await load(cache);
        expect(a.version).toBe("v1");
        const r2 = await save("v2"); // through another store instance: the cache is not told
        expect(r2.digest).not.toBe(r1.digest);
        t += 999;
        expect(await load(cache)).toBe(a);
        t += 1;
        const b = await load(cache);
        expect(b.version).toBe("v2");
        expect(a.disposed).toBe(false); // handed out by getOrLoad (no lease): never disposed
        expect(cache.stats()).toMatchObject({ revalidations: 2, loads: 2, downloads: 2 });
      });

      it("a retrain moves default: by default the call after revalidateMs gets the known model at once, the calls after the background answer the new one (injected clock)", async () => {
        await save("v1");
        let t = 1_000_000;
        const cache = newCache({ revalidateMs: 1000, now: () => t });
        const a = await load(cache);
        await save("v2");
        t += 1000;
        expect(await load(cache)).toBe(a); // served at once; the store is asked in the background
        expect(cache.stats().revalidations).toBe(2);
        await vi.waitFor(async () => expect((await load(cache)).version).toBe("v2"));
        expect(cache.stats()).toMatchObject({ revalidations: 2, loads: 2, downloads: 2 });
        // Past revalidateMs + staleWhileRevalidateMs (default 60 s), callers wait again.
        await save("v3");
        t += 1000 + 60_000;
        expect((await load(cache)).version).toBe("v3");
      });

      it("a retrain moves default: seen after a real revalidateMs wait, and versions never mix", async () => {
        const versionOf = new Map<string, string>();
        const r1 = await save("v1", { payloadBytes: 64 * 1024 });
        versionOf.set(r1.digest, "v1");
        const cache = newCache({ revalidateMs: 50, staleWhileRevalidateMs: 0 });
        const seen: Array<{ version: string; digest?: string }> = [];
        let stop = false;
        const readers = Array.from({ length: 4 }, async () => {
          while (!stop) {
            const m = await cache.getOrLoad({
              pluginInstanceId: id,
              kind: "CounterModel",
              load: loadCounter,
            });
            seen.push({ version: m.version, digest: m.loadedDigest });
            await sleep(2);
          }
        });
        for (const v of ["v2", "v3", "v4"]) {
          await sleep(30);
          const ref = await save(v, { payloadBytes: 64 * 1024 });
          versionOf.set(ref.digest, v);
        }
        await sleep(80);
        const after = await cache.getOrLoad({
          pluginInstanceId: id,
          kind: "CounterModel",
          load: loadCounter,
        });
        stop = true;
        await Promise.all(readers);
        expect(after.version).toBe("v4");
        expect(seen.length).toBeGreaterThan(10);
        for (const s of seen) expect(versionOf.get(s.digest ?? "")).toBe(s.version);
      });

      it("revalidateMs 0 resolves on every call and waits for the answer; loads stay single", async () => {
        await save("v1");
        const cache = newCache({ revalidateMs: 0 }); // staleWhileRevalidateMs defaults to 0 then
        for (let i = 0; i < 3; i++) await load(cache);
        expect(cache.stats()).toMatchObject({ revalidations: 3, loads: 1, hits: 2 });
        await save("v2");
        expect((await load(cache)).version).toBe("v2");
      });

      it("revalidateMs 0 with staleWhileRevalidateMs: every call is answered from memory and asks the store in the background, one resolution at a time", async () => {
        await save("v1");
        const cache = newCache({ revalidateMs: 0, staleWhileRevalidateMs: 60_000 });
        const a = await load(cache);
        const again = await Promise.all(Array.from({ length: 5 }, () => load(cache)));
        expect(new Set([a, ...again]).size).toBe(1);
        expect(cache.stats()).toMatchObject({ revalidations: 2, loads: 1, hits: 5 });
        await save("v2");
        await vi.waitFor(async () => expect((await load(cache)).version).toBe("v2"));
      });

      it("a save through this process (saveRemote with the cache) is seen at once", async () => {
        await save("v1");
        const cache = newCache({ revalidateMs: 3_600_000 });
        expect((await load(cache)).version).toBe("v1");
        await CounterModel.withVersion("v2").saveRemote({ store, pluginInstanceId: id, cache });
        expect((await load(cache)).version).toBe("v2");
        expect(cache.stats().revalidations).toBe(1);
      });

      it("invalidate() forgets a handle's digest", async () => {
        await save("v1");
        const cache = newCache({ revalidateMs: 3_600_000 });
        expect((await load(cache)).version).toBe("v1");
        await save("v2");
        expect((await load(cache)).version).toBe("v1");
        cache.invalidate({ pluginInstanceId: id, handle: "default" });
        expect((await load(cache)).version).toBe("v2");
        await save("v3");
        cache.invalidate({ pluginInstanceId: id });
        expect((await load(cache)).version).toBe("v3");
      });

      it("a missing handle is a NotFoundError, and is not remembered", async () => {
        const cache = newCache();
        await expect(load(cache, "nope")).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
        await save("v1", { handle: "nope" });
        expect((await load(cache, "nope")).version).toBe("v1");
      });

      it("one caller's abort does not cancel the others' shared load", async () => {
        await save("v1");
        const cache = newCache();
        CounterModel.loadDelayMs = 200;
        const controller = new AbortController();
        const aborted = cache.getOrLoad({
          pluginInstanceId: id,
          load: loadCounter,
          signal: controller.signal,
        });
        const kept = cache.getOrLoad({ pluginInstanceId: id, load: loadCounter });
        setTimeout(() => controller.abort(), 20);
        await expect(aborted).rejects.toSatisfy((e) => CancelledError.isInstance(e));
        expect((await kept).version).toBe("v1");
        expect(cache.stats().loads).toBe(1);
      });
    });

    describe("leases and disposal", () => {
      it("a model is never disposed while a lease holds it: eviction and clear() wait for the last release", async () => {
        await save("a", { handle: "a", setAsDefault: false });
        await save("b", { handle: "b", setAsDefault: false });
        const cache = newCache({ maxEntries: 1 });
        let seen: CounterModel | undefined;
        const busy = cache.use(spec("a"), async (model, ref) => {
          seen = model;
          expect(ref.digest).toBe(model.loadedDigest);
          return model.work(300);
        });
        await vi.waitFor(() => expect(seen?.inUse).toBe(1));
        const b = await leased(cache, "b"); // evicts a (maxEntries 1) while it is in use
        expect(cache.stats().evictions).toBe(1);
        cache.clear();
        expect(b.disposed).toBe(true); // no lease: disposed at once
        expect(seen?.disposed).toBe(false);
        expect(await busy).toBe("a");
        expect(seen?.disposedWhileInUse).toBe(false);
        expect(seen?.disposed).toBe(true); // at its last release
        expect(cache.stats().disposals).toBe(2);

        // A throwing fn releases its lease too.
        let thrower: CounterModel | undefined;
        await expect(
          cache.use(spec("a"), (model) => {
            thrower = model;
            throw new Error("request failed");
          }),
        ).rejects.toThrow("request failed");
        cache.clear();
        expect(thrower?.disposed).toBe(true);
      });

      it("many concurrent requests while models are evicted, replaced by a moving default and cleared: dispose() never overlaps a use, and every model is disposed once released", async () => {
        for (const v of ["a", "b", "c"]) await save(v, { handle: v, setAsDefault: false });
        await save("d0");
        let t = 1_000_000;
        const cache = newCache({
          maxEntries: 2,
          revalidateMs: 100,
          staleWhileRevalidateMs: 0,
          now: () => t,
        });
        const models = new Set<CounterModel>();
        const handles = ["a", "b", "c", undefined];
        await Promise.all(
          Array.from({ length: 48 }, async (_, i) => {
            await sleep((i * 7) % 60);
            if (i % 16 === 5) {
              await save(`d${i}`);
              t += 100;
            }
            if (i % 20 === 19) cache.clear();
            return cache.use(spec(handles[i % handles.length]), async (model) => {
              models.add(model);
              return model.work(5 + (i % 4) * 15);
            });
          }),
        );
        expect(cache.stats().evictions + cache.stats().disposals).toBeGreaterThan(0);
        await cache.close();
        for (const model of models) {
          expect(model.disposedWhileInUse).toBe(false);
          expect(model.disposed).toBe(true);
        }
        expect(cache.stats().disposals).toBe(models.size);
        expect(CounterModel.disposals).toBe(models.size);
      });

      it("a model handed out by getOrLoad (no lease) is never disposed by the cache, unless disposeUnleasedAfterMs says when", async () => {
        await save("a", { handle: "a", setAsDefault: false });
        await save("b", { handle: "b", setAsDefault: false });
        const cache = newCache({ maxEntries: 1 });
        const a = await cache.getOrLoad(spec("a"));
        expect(await leased(cache, "a")).toBe(a); // a lease as well does not make it disposable
        await leased(cache, "b"); // evicts a
        cache.clear();
        expect(cache.stats()).toMatchObject({ evictions: 1, disposals: 1 }); // b only
        expect(a.disposed).toBe(false);

        const timed = newCache({ maxEntries: 1, disposeUnleasedAfterMs: 200 });
        const x = await timed.getOrLoad(spec("a"));
        await leased(timed, "b"); // evicts x
        expect(x.disposed).toBe(false);
        await vi.waitFor(() => expect(x.disposed).toBe(true), { timeout: 5000 });
        expect(timed.stats().disposals).toBe(1);
      });

      it("a moved default releases the old version (disposed once unused), unless another handle still points at it", async () => {
        await save("v1", { handle: "pinned" }); // default too
        let t = 1_000_000;
        const cache = newCache({ revalidateMs: 1000, staleWhileRevalidateMs: 0, now: () => t });
        const held = await cache.acquire(spec());
        const v1 = held.model;
        expect(held.ref.digest).toBe(v1.loadedDigest);
        expect(await leased(cache, "pinned")).toBe(v1);
        await save("v2"); // default → v2; pinned stays at v1
        t += 1000;
        const v2 = await leased(cache);
        expect(v2.version).toBe("v2");
        expect(await leased(cache, "pinned")).toBe(v1); // still pinned's version: kept
        expect(v1.disposed).toBe(false);
        await save("v3", { handle: "pinned", setAsDefault: false });
        t += 1000;
        expect((await leased(cache, "pinned")).version).toBe("v3");
        // v1 is no handle's version any more: out of memory, disposed at its last release.
        expect(v1.disposed).toBe(false);
        held.release();
        expect(v1.disposed).toBe(true);
        // A save through this process (notifySaved) releases the version it replaces at once.
        expect(v2.disposed).toBe(false);
        await CounterModel.withVersion("v4").saveRemote({ store, pluginInstanceId: id, cache });
        expect(v2.disposed).toBe(true);
        expect(cache.stats()).toMatchObject({ disposals: 2, evictions: 0 });
        expect((await leased(cache)).version).toBe("v4");
      });

      it("a deleted handle is a NotFoundError even with its model in memory, and its version is released", async () => {
        await save("v1", { handle: "h", setAsDefault: false });
        let t = 1_000_000;
        const cache = newCache({ revalidateMs: 1000, now: () => t });
        const m = await leased(cache, "h");
        await writer.delete({ pluginInstanceId: id, handle: "h" });
        t += 1000;
        // The first call past revalidateMs is answered from memory while the store is asked…
        expect(await leased(cache, "h")).toBe(m);
        // …which answers not-found: the version leaves memory, and the next calls throw.
        await vi.waitFor(() => expect(m.disposed).toBe(true));
        await expect(leased(cache, "h")).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
        expect(cache.stats()).toMatchObject({ staleServed: 0, revalidationErrors: 0 });

        // Waiting callers (staleWhileRevalidateMs 0) get the NotFoundError at once.
        await save("v2", { handle: "g", setAsDefault: false });
        const strict = newCache({ revalidateMs: 1000, staleWhileRevalidateMs: 0, now: () => t });
        await leased(strict, "g");
        await writer.delete({ pluginInstanceId: id, handle: "g" });
        t += 1000;
        await expect(leased(strict, "g")).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
      });
    });

    describe("acquireCached (memory-only leases)", () => {
      it("leases only what memory holds: undefined before the first load (nothing asked of the store), then the same model as acquire, held through clear() until released once", async () => {
        await save("v1");
        const cache = newCache();
        const resolves = vi.spyOn(store, "resolve");
        expect(cache.acquireCached(spec())).toBeUndefined();
        expect(resolves).not.toHaveBeenCalled();
        expect(cache.stats()).toMatchObject({ hits: 0, misses: 0 });

        const first = await cache.acquire(spec());
        first.release();
        const lease = cache.acquireCached(spec());
        expect(lease?.model).toBe(first.model);
        expect(lease?.ref.digest).toBe(first.ref.digest);
        expect(cache.stats().hits).toBe(1);
        expect(resolves).toHaveBeenCalledTimes(1); // the first acquire only
        resolves.mockRestore();

        cache.clear();
        expect(lease?.model.disposed).toBe(false); // still leased
        const release = lease?.release; // works detached from the lease too
        release?.();
        lease?.release(); // a second release changes nothing
        expect(lease?.model.disposed).toBe(true);
        expect(cache.stats().disposals).toBe(1);
        expect(cache.acquireCached(spec())).toBeUndefined(); // cleared: acquire has to load
      });

      it("undefined whenever acquire would wait: a handle past revalidateMs, an invalidated one, another kind, a closed cache", async () => {
        await save("v1");
        let t = 1_000_000;
        const cache = newCache({ revalidateMs: 100, now: () => t });
        (await cache.acquire(spec())).release();
        const hit = cache.acquireCached(spec());
        expect(hit?.model.version).toBe("v1");
        hit?.release();

        // Another kind of model (a config) is another entry, not this one.
        expect(cache.acquireCached(spec(undefined, { config: { tag: "x" } }))).toBeUndefined();

        t += 100; // due for revalidation: acquire serves it while asking the store
        expect(cache.acquireCached(spec())).toBeUndefined();
        (await cache.acquire(spec())).release();
        await vi.waitFor(() => expect(cache.acquireCached(spec())).toBeDefined());

        cache.invalidate({ pluginInstanceId: id });
        expect(cache.acquireCached(spec())).toBeUndefined();
        (await cache.acquire(spec())).release();
        const again = cache.acquireCached(spec());
        expect(again?.model.version).toBe("v1");
        again?.release();

        await cache.close();
        expect(cache.acquireCached(spec())).toBeUndefined();
        await expect(cache.acquire(spec())).rejects.toThrow(/closed/);
      });

      it("a moved handle is never served from memory with its old version; the new one is, once loaded", async () => {
        await save("v1");
        const cache = newCache();
        (await cache.acquire(spec())).release();
        const old = cache.acquireCached(spec());
        expect(old?.model.version).toBe("v1");

        const moved = await save("v2", { via: store });
        cache.notifySaved({ pluginInstanceId: id, ref: moved });
        expect(cache.acquireCached(spec())).toBeUndefined(); // v2 is not loaded yet
        const fresh = await cache.acquire(spec());
        expect(fresh.model.version).toBe("v2");
        fresh.release();
        const next = cache.acquireCached(spec());
        expect(next?.model.version).toBe("v2");
        next?.release();

        expect(old?.model.disposed).toBe(false); // the old version left memory, still leased
        old?.release();
        expect(old?.model.disposed).toBe(true);
      });

      it("options acquire refuses are undefined here (acquire throws them); a handle not yet recorded on disk waits for acquire", async () => {
        await save("v1");
        const cache = newCache();
        (await cache.acquire(spec())).release();
        for (const bad of [
          { pluginInstanceId: 42 },
          { pluginInstanceId: `${id}/default` },
          { handle: "../default" },
          { config: { n: Number.NaN } },
          { kind: 7 },
        ]) {
          const options = { ...spec(), ...bad } as unknown as ModelLoadOptions<CounterModel>;
          expect(cache.acquireCached(options), JSON.stringify(bad)).toBeUndefined();
          await expect(cache.acquire(options)).rejects.toSatisfy((e) =>
            ValidationError.isInstance(e),
          );
        }
        // acquire checks `load` even on a memory hit.
        const noLoad = { ...spec(), load: undefined } as unknown as ModelLoadOptions<CounterModel>;
        await expect(cache.acquire(noLoad)).rejects.toSatisfy((e) => ValidationError.isInstance(e));

        // What acquire records for offline use is written before memory serves on its own:
        // an offline cache on the same folder finds the version.
        const hit = cache.acquireCached(spec());
        expect(hit?.model.version).toBe("v1");
        hit?.release();
        const offline = newCache({ offline: true });
        const fromDisk = await offline.acquire(spec());
        expect(fromDisk.model.version).toBe("v1");
        fromDisk.release();
      });
    });

    describe("stale-if-error", () => {
      const staleWarnings = (warnings: string[]) =>
        warnings.filter((w) => w.includes("Serving the last verified version"));

      it("the store made unreachable after warm-up: the last version keeps being served at once, counted, warned once per failure streak", async () => {
        await save("v1");
        const { store: flaky, control } = await loc.openControlled({ workspace: WS });
        const warnings: string[] = [];
        let t = 1_000_000;
        const cache = newCache({
          store: flaky,
          revalidateMs: 1000,
          now: () => t,
          logger: { warn: (m) => warnings.push(m) },
        });
        try {
          const get = () => cache.getOrLoad(spec());
          const a = await get();
          control.fail = unreachable;
          t += 1000;
          expect(await get()).toBe(a); // from memory; the background revalidation fails
          await vi.waitFor(() => expect(cache.stats().revalidationErrors).toBe(1));
          for (let i = 0; i < 5; i++) expect(await get()).toBe(a);
          expect(cache.stats()).toMatchObject({
            staleServed: 5,
            revalidationErrors: 1,
            revalidations: 2,
          });
          expect(staleWarnings(warnings)).toHaveLength(1);
          const [warning] = staleWarnings(warnings);
          expect(warning).toContain(`handle "default" of ${WS}/${id}`);
          expect(warning).toContain(a.loadedDigest);
          expect(warning).toMatch(/RemoteError.*ECONNREFUSED/);

          // Retried in the background once per max(revalidateMs, 1 s); no new warning.
          t += 1000;
          expect(await get()).toBe(a);
          await vi.waitFor(() => expect(cache.stats().revalidationErrors).toBe(2));
          expect(await get()).toBe(a);
          expect(staleWarnings(warnings)).toHaveLength(1);

          // The store comes back, with a new default: the next retry ends the streak.
          control.fail = undefined;
          await save("v2");
          t += 1000;
          expect(await get()).toBe(a);
          await vi.waitFor(async () => expect((await get()).version).toBe("v2"));
          const served = cache.stats().staleServed;

          // A second streak warns again, once.
          control.fail = unreachable;
          t += 1000;
          const b = await get();
          await vi.waitFor(() => expect(cache.stats().revalidationErrors).toBe(3));
          expect(await get()).toBe(b);
          expect(await get()).toBe(b);
          expect(cache.stats().staleServed).toBe(served + 2);
          expect(staleWarnings(warnings)).toHaveLength(2);
        } finally {
          await cache.close();
          await flaky.close();
        }
      });

      it("waiting callers (staleWhileRevalidateMs 0) get the last version when the store fails; past staleIfErrorMs they get the error; a deleted handle is always a NotFoundError", async () => {
        await save("v1");
        const { store: flaky, control } = await loc.openControlled({ workspace: WS });
        let t = 1_000_000;
        const cache = newCache({
          store: flaky,
          revalidateMs: 1000,
          staleWhileRevalidateMs: 0,
          staleIfErrorMs: 5000,
          now: () => t,
        });
        try {
          const get = () => cache.getOrLoad(spec());
          const a = await get();
          control.fail = unreachable;
          t += 1000;
          expect(await get()).toBe(a); // waited for the store, which failed
          expect(cache.stats()).toMatchObject({ staleServed: 1, revalidationErrors: 1 });
          t += 4999; // verified 5999 ms ago: within revalidateMs + staleIfErrorMs
          expect(await get()).toBe(a);
          // invalidate() makes the next call ask the store; failing, it still gets the last version.
          cache.invalidate({ pluginInstanceId: id });
          expect(await get()).toBe(a);
          expect(cache.stats()).toMatchObject({ staleServed: 3, revalidationErrors: 2 });
          t += 1; // 6000 ms: too old to serve
          await expect(get()).rejects.toSatisfy((e) => RemoteError.isInstance(e));
          expect(cache.stats().staleServed).toBe(3);

          control.fail = undefined;
          await writer.delete({ pluginInstanceId: id, handle: "default" });
          await expect(get()).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
          expect(cache.stats().staleServed).toBe(3);
        } finally {
          await cache.close();
          await flaky.close();
        }
      });

      it("a fresh cache sharing the disk folder serves the version recorded there when the store is unreachable", async () => {
        const ref = await save("v1");
        await leased(newCache()); // an online cache recorded handles/default.json and the entry
        const unreachableStore = await loc.openUnreachable({ workspace: WS });
        const warnings: string[] = [];
        // revalidateMs 0: the record on disk (written just now) is past its revalidation at once.
        const cache = newCache({
          store: unreachableStore,
          revalidateMs: 0,
          logger: { warn: (m) => warnings.push(m) },
        });
        try {
          const m = await cache.getOrLoad(spec());
          expect(m.version).toBe("v1");
          expect(m.loadedDigest).toBe(ref.digest);
          expect(cache.stats()).toMatchObject({
            staleServed: 1,
            revalidationErrors: 1,
            downloads: 0,
            diskHits: 1,
          });
          // Now known: the next calls do not wait for the store (retried in the background after 1 s).
          expect(await cache.getOrLoad(spec())).toBe(m);
          expect(cache.stats()).toMatchObject({ staleServed: 2, revalidationErrors: 1 });
          expect(staleWarnings(warnings)).toHaveLength(1);
          expect(staleWarnings(warnings)[0]).toContain(`handle "default" of ${WS}/${id}`);
          // Nothing on disk for a handle: the store's error.
          const other = await cache.getOrLoad(spec("other")).catch((e: unknown) => e);
          expect(RemoteError.isInstance(other)).toBe(true);
          // Bounded: a record older than revalidateMs + staleIfErrorMs is not served. Its age is
          // counted from when it was recorded (`updatedAt`): here, an hour ago.
          const handleFile = join(diskDir, LAYOUT, WS, id, "handles", "default.json");
          const record = JSON.parse(await readFile(handleFile, "utf8"));
          record.updatedAt = new Date(Date.now() - 3_600_000).toISOString();
          await writeFile(handleFile, JSON.stringify(record));
          const bounded = newCache({ store: unreachableStore, staleIfErrorMs: 10_000 });
          const error = await bounded.getOrLoad(spec()).catch((e: unknown) => e);
          expect(RemoteError.isInstance(error)).toBe(true);
          expect(bounded.stats()).toMatchObject({ staleServed: 0, revalidationErrors: 1 });
          const unbounded = newCache({ store: unreachableStore });
          expect((await unbounded.getOrLoad(spec())).version).toBe("v1");
          expect(unbounded.stats().staleServed).toBe(1);
        } finally {
          for (const c of caches) await c.close();
          await unreachableStore.close();
        }
      });
    });

    describe("stale-while-revalidate", () => {
      it("a slow store does not delay callers once a version is known; the calls after its answer get the new version", async () => {
        await save("v1");
        const { store: slow, control } = await loc.openControlled({ workspace: WS });
        let t = 1_000_000;
        let open = () => {};
        const stall = () => {
          control.gate = new Promise<void>((resolve) => {
            open = () => {
              control.gate = undefined;
              resolve();
            };
          });
        };
        const cache = newCache({ store: slow, revalidateMs: 1000, now: () => t });
        const waiting = newCache({
          store: slow,
          revalidateMs: 1000,
          staleWhileRevalidateMs: 0,
          now: () => t,
        });
        try {
          const a = await cache.getOrLoad(spec());
          await save("v2");
          stall();
          t += 1000;
          const before = control.calls;
          for (let i = 0; i < 3; i++) expect(await cache.getOrLoad(spec())).toBe(a);
          expect(control.calls).toBeGreaterThan(before); // the store was asked, and is stalled
          expect(cache.stats()).toMatchObject({ revalidations: 2, staleServed: 0 });
          open();
          await vi.waitFor(async () => expect((await cache.getOrLoad(spec())).version).toBe("v2"));

          // staleWhileRevalidateMs 0: callers wait for the store.
          expect((await waiting.getOrLoad(spec())).version).toBe("v2");
          await save("v3");
          stall();
          t += 1000;
          let settled = false;
          const pending = waiting.getOrLoad(spec()).finally(() => {
            settled = true;
          });
          await sleep(150);
          expect(settled).toBe(false);
          open();
          expect((await pending).version).toBe("v3");
        } finally {
          open();
          for (const c of caches) await c.close();
          await slow.close();
        }
      });
    });

    describe("keys", () => {
      it("two model classes with the same name never share an instance; the same class does", async () => {
        await save("v1");
        const cache = newCache();
        const A = (() => class Model extends CounterModel {})();
        const B = (() => class Model extends CounterModel {})();
        expect(A.name).toBe(B.name);
        const get = (modelClass: object) =>
          cache.getOrLoad({ pluginInstanceId: id, modelClass, load: loadCounter });
        const [a1, b1] = await Promise.all([get(A), get(B)]);
        expect(b1).not.toBe(a1);
        expect(await get(A)).toBe(a1);
        expect(await get(B)).toBe(b1);
        expect(cache.stats()).toMatchObject({ loads: 2, hits: 2, downloads: 1 });
      });

      it("configs that differ only in key order share one instance; non-JSON configs are refused before any I/O", async () => {
        await save("v1");
        const cache = newCache();
        const get = (config: unknown) => cache.getOrLoad(spec(undefined, { config }));
        const x = await get({ threshold: 0.5, labels: ["a", "b"], nested: { p: 1, q: { r: 2 } } });
        const y = await get({
          nested: { q: { r: 2 }, p: 1 },
          labels: ["a", "b"],
          threshold: 0.5,
          unset: undefined,
        });
        expect(y).toBe(x);
        const z = await get({ threshold: 0.5, labels: ["b", "a"], nested: { p: 1, q: { r: 2 } } });
        expect(z).not.toBe(x);
        expect(await get(undefined)).not.toBe(x); // no config: another kind of model
        expect(cache.stats()).toMatchObject({ loads: 3, downloads: 1 });

        const refused = newCache({ store: forbiddenStore(WS) as CheckpointStoreImpl });
        for (const [config, what] of [
          [{ step: 1n }, /step: a BigInt is not JSON/],
          [{ f: () => 1 }, /f: a function is not JSON/],
          [{ at: new Date(0) }, /at: must be plain JSON, not a Date/],
        ] as const) {
          for (const call of [
            () => refused.getOrLoad(spec(undefined, { config })),
            () => refused.use(spec(undefined, { config }), (m) => m),
          ]) {
            await expect(call()).rejects.toSatisfy(
              (e) =>
                ValidationError.isInstance(e) &&
                (e as ValidationError).issues[0]?.path === "config" &&
                what.test((e as Error).message),
            );
          }
        }
      });
    });

    describe("disk", () => {
      it("a fresh cache on the same folder serves from disk, verified, without downloading", async () => {
        const ref = await save("v1");
        await load(newCache());
        const marker = JSON.parse(await readFile(`${entryDir(ref)}.complete.json`, "utf8"));
        const manifest = await manifestOf(ref);
        expect(marker).toMatchObject({
          schemaVersion: 2,
          digest: ref.digest,
          bytes: bytesOf(manifest),
          ref: { digest: ref.digest, formatVersion: 2 },
        });
        // The marker keeps the store's manifest: what the entry is verified against, offline too.
        expect(marker.manifest).toEqual(manifest);
        expect(manifestDigest(marker.manifest)).toBe(ref.digest);
        const fresh = newCache();
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ downloads: 0, diskHits: 1, repairs: 0 });
        const handleFile = JSON.parse(
          await readFile(join(diskDir, LAYOUT, WS, id, "handles", "default.json"), "utf8"),
        );
        expect(handleFile.digest).toBe(ref.digest);
      });

      it("a corrupt cached file (one flipped byte) is detected by a fresh cache and replaced", async () => {
        const ref = await save("v1", { payloadBytes: 100_000 });
        await load(newCache());
        const file = join(entryDir(ref), "weights", "payload.bin");
        const handle = await open(file, "r+");
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 50_000);
        byte[0] = (byte[0] as number) ^ 0xff;
        await handle.write(byte, 0, 1, 50_000);
        await handle.close();

        const fresh = newCache(); // default verify: "stat" (same size, but ctime changed)
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ repairs: 1, downloads: 1, diskHits: 0 });
        const again = newCache();
        await load(again);
        expect(again.stats()).toMatchObject({
          repairs: 0,
          downloads: 0,
          diskHits: 1,
          verifiedBytes: 0,
        });
      });

      it('verify "stat" (default): an intact entry is served from lstat fingerprints, nothing hashed', async () => {
        const ref = await save("v1", { payloadBytes: 200_000 });
        await load(newCache());
        const marker = JSON.parse(await readFile(`${entryDir(ref)}.complete.json`, "utf8"));
        const manifest = await manifestOf(ref);
        expect(marker.fingerprints.map((f: { path: string }) => f.path).sort()).toEqual(
          manifest.files.map((f) => f.path).sort(),
        );
        const fresh = newCache();
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({
          downloads: 0,
          diskHits: 1,
          repairs: 0,
          verifiedBytes: 0,
        });
        const full = newCache({ verify: "full" });
        await load(full);
        const extracted = bytesOf(manifest);
        expect(full.stats()).toMatchObject({ downloads: 0, diskHits: 1, verifiedBytes: extracted });
      });

      it('verify "stat": a rewrite reset to the old mtime with utimes is still detected (ctime)', async () => {
        const ref = await save("v1", { payloadBytes: 100_000 });
        await load(newCache());
        const file = join(entryDir(ref), "weights", "payload.bin");
        const before = await stat(file, { bigint: true });
        const content = await readFile(file);
        content[70_000] = (content[70_000] as number) ^ 0x01;
        await writeFile(file, content);
        setMtimeNs(file, before.mtimeNs);
        const after = await stat(file, { bigint: true });
        expect(after.mtimeNs).toBe(before.mtimeNs);
        expect(after.size).toBe(before.size);
        expect(after.ctimeNs).not.toBe(before.ctimeNs);

        const fresh = newCache();
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ repairs: 1, downloads: 1, diskHits: 0 });
        expect(fresh.stats().verifiedBytes).toBeGreaterThan(0);
      });

      it('verify "stat": a metadata-only change is hashed once, found intact, and re-fingerprinted', async () => {
        const ref = await save("v1", { payloadBytes: 100_000 });
        await load(newCache());
        const file = join(entryDir(ref), "weights", "payload.bin");
        await chmod(file, 0o600);
        const c1 = newCache();
        await load(c1);
        const payload = (await manifestOf(ref)).files.find((f) => f.path === "weights/payload.bin");
        expect(c1.stats()).toMatchObject({
          repairs: 0,
          downloads: 0,
          diskHits: 1,
          verifiedBytes: payload?.size,
        });
        const c2 = newCache();
        await load(c2);
        expect(c2.stats()).toMatchObject({ repairs: 0, downloads: 0, verifiedBytes: 0 });
      });

      it('a truncated file is caught even with verify: "size"', async () => {
        const ref = await save("v1", { payloadBytes: 10_000 });
        await load(newCache());
        await truncate(join(entryDir(ref), "weights", "payload.bin"), 5000);
        const fresh = newCache({ verify: "size" });
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ repairs: 1, downloads: 1 });
      });

      it("an extra file, a missing marker or a tampered marker is never served", async () => {
        const ref = await save("v1");
        await load(newCache());
        await writeFile(join(entryDir(ref), "extra.bin"), "injected");
        const c1 = newCache();
        await load(c1);
        expect(c1.stats()).toMatchObject({ repairs: 1, downloads: 1 });
        expect(await readdir(entryDir(ref))).not.toContain("extra.bin");

        await rm(`${entryDir(ref)}.complete.json`); // as if killed between rename and marker
        const c2 = newCache();
        await load(c2);
        expect(c2.stats()).toMatchObject({ repairs: 1, downloads: 1 });

        const markerPath = `${entryDir(ref)}.complete.json`;
        const marker = JSON.parse(await readFile(markerPath, "utf8"));
        marker.manifest.files[0].sha256 = "0".repeat(64);
        await writeFile(markerPath, JSON.stringify(marker));
        const c3 = newCache();
        await load(c3);
        expect(c3.stats()).toMatchObject({ repairs: 1, downloads: 1 });
      });

      it("an extra directory in an entry, even empty, is never served", async () => {
        const ref = await save("v1");
        await load(newCache());
        await mkdir(join(entryDir(ref), "weights", "injected"));
        const c1 = newCache();
        expect((await load(c1)).version).toBe("v1");
        expect(c1.stats()).toMatchObject({ repairs: 1, downloads: 1, diskHits: 0 });
        expect(await readdir(join(entryDir(ref), "weights"))).toEqual(["payload.bin"]);
      });

      it("a file and its marker rewritten together (checksum and fingerprints recomputed) are caught by the v2 digest", async () => {
        const ref = await save("v1");
        await load(newCache());
        const markerPath = `${entryDir(ref)}.complete.json`;
        const read = await readMarker(markerPath, ref.digest);
        if (read.state !== "ok") throw new Error(`expected a good marker, got ${read.state}`);
        // "v1" → "vX": same size; the forged manifest lists the new content's sha256.
        await writeFile(join(entryDir(ref), "version.txt"), "vX");
        const forged = {
          files: read.marker.manifest.files.map((f) =>
            f.path === "version.txt" ? { ...f, sha256: sha256Hex("vX") } : f,
          ),
          directories: read.marker.manifest.directories,
        };
        expect(forged.files).not.toEqual(read.marker.manifest.files);
        await writeMarker({
          path: markerPath,
          tmpDir: diskDir,
          ref: read.marker.ref,
          manifest: forged,
          now: new Date(),
          fingerprints: [], // every file gets hashed, and each matches the forged manifest
          previous: read.marker,
        });
        expect(await readMarker(markerPath, ref.digest)).toEqual({
          state: "bad",
          reason: "its completion marker lists files that do not match the digest",
        });

        const fresh = newCache({ verify: "full" });
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ repairs: 1, downloads: 1, diskHits: 0 });
        expect(await readFile(join(entryDir(ref), "version.txt"), "utf8")).toBe("v1");
      });

      it("a ref whose counts disagree with its manifest is refused, and nothing is cached for it", async () => {
        const ref = await save("v1");
        const manifest = await manifestOf(ref);
        expect(manifestDigest(manifest)).toBe(ref.digest);
        expect(ref).toMatchObject({
          fileCount: manifest.files.length,
          directoryCount: manifest.directories.length,
          totalBytes: bytesOf(manifest),
        });
        const cache = newCache({ revalidateMs: 3_600_000 });
        for (const forged of [
          { ...ref, totalBytes: ref.totalBytes + 1 },
          { ...ref, fileCount: ref.fileCount + 1 },
          { ...ref, directoryCount: ref.directoryCount + 1 },
        ]) {
          cache.notifySaved({ pluginInstanceId: id, ref: forged });
          await expect(load(cache)).rejects.toSatisfy(
            (e) => IntegrityError.isInstance(e) && FORGED_REF.test((e as Error).message),
          );
          await expect(stat(`${entryDir(ref)}.complete.json`)).rejects.toThrow(/ENOENT/);
          await expect(stat(entryDir(ref))).rejects.toThrow(/ENOENT/);
        }
        cache.invalidate({ pluginInstanceId: id });
        expect((await load(cache)).version).toBe("v1");
        expect(cache.stats()).toMatchObject({ downloads: 4, loads: 1, diskHits: 0 });
        await stat(`${entryDir(ref)}.complete.json`);

        // A cached entry is not served under a ref that describes another manifest.
        const fresh = newCache({ revalidateMs: 3_600_000 });
        fresh.notifySaved({
          pluginInstanceId: id,
          ref: { ...ref, fileCount: ref.fileCount + 1 },
        });
        await expect(load(fresh)).rejects.toSatisfy(
          (e) => IntegrityError.isInstance(e) && FORGED_REF.test((e as Error).message),
        );
        expect(fresh.stats()).toMatchObject({ diskHits: 0, repairs: 1, downloads: 1, loads: 0 });
      });

      it("entries of the v1 layout are ignored: downloaded again into v2, never served or evicted", async () => {
        const ref = await save("v1");
        const older = newCache();
        await load(older);
        await older.close(); // releases its lease on the entry
        // What an older cache left: the same tree under v1/ (markers of schema 1 or 2 alike).
        await rename(join(diskDir, LAYOUT), join(diskDir, "v1"));
        const none = forbiddenStore(WS);
        const offline = newCache({ store: none as CheckpointStoreImpl, offline: true });
        await expect(
          CounterModel.loadRemote({ store: none, pluginInstanceId: id, cache: offline }),
        ).rejects.toSatisfy(
          (e) => NotFoundError.isInstance(e) && /not cached/.test((e as Error).message),
        );
        const fresh = newCache({ diskMaxBytes: 1 });
        expect((await load(fresh)).version).toBe("v1");
        expect(fresh.stats()).toMatchObject({ downloads: 1, diskHits: 0, repairs: 0 });
        await stat(`${entryDir(ref)}.complete.json`);
        fresh.clear();
        expect(await fresh.evictDisk()).toBe(1);
        await stat(join(diskDir, "v1", WS, id, `${ref.digest.slice(7)}.complete.json`));
      });

      it("a stale lock from a dead process is broken at once", async () => {
        const ref = await save("v1");
        const dead = spawnSync(process.execPath, ["-e", ""]).pid;
        const lock = `${entryDir(ref)}.lock`;
        await mkdir(join(diskDir, LAYOUT, WS, id), { recursive: true });
        await writeFile(
          lock,
          JSON.stringify({ pid: dead, host: HOST, token: "t", createdAt: Date.now() }),
        );
        const cache = newCache({ lockStaleMs: 600_000 });
        const started = Date.now();
        expect((await load(cache)).version).toBe("v1");
        expect(Date.now() - started).toBeLessThan(10_000);
        await expect(stat(lock)).rejects.toThrow(/ENOENT/);
      });

      it("a lock not refreshed for lockStaleMs (another host) is broken; a live one is waited for", async () => {
        const ref = await save("v1");
        const lock = `${entryDir(ref)}.lock`;
        await mkdir(join(diskDir, LAYOUT, WS, id), { recursive: true });
        await writeFile(
          lock,
          JSON.stringify({ pid: 1, host: "elsewhere", token: "t", createdAt: 0 }),
        );
        const old = new Date(Date.now() - 60_000);
        await utimes(lock, old, old);
        expect((await load(newCache({ lockStaleMs: 30_000 }))).version).toBe("v1");

        // A live holder (this very process, from another cache): the load waits until it is gone.
        const r2 = await save("v2");
        const lock2 = `${entryDir(r2)}.lock`;
        await writeFile(
          lock2,
          JSON.stringify({ pid: process.pid, host: HOST, token: "u", createdAt: Date.now() }),
        );
        const waiting = newCache({ pollMs: 20 });
        let settled = false;
        const pending = load(waiting).finally(() => {
          settled = true;
        });
        await sleep(300);
        expect(settled).toBe(false);
        await rm(lock2);
        expect((await pending).version).toBe("v2");
      });

      it("evicts least recently used entries over diskMaxBytes, never one in use", async () => {
        const refs: CheckpointRef[] = [];
        for (const v of ["a", "b", "c"])
          refs.push(await save(v, { handle: v, setAsDefault: false, payloadBytes: 10_000 }));
        const bytes = bytesOf(await manifestOf(refs[0]!));
        // Memory keeps one model: the older entries are unpinned once it moves on.
        const cache = newCache({ maxEntries: 1, diskMaxBytes: bytes * 2 + 100 });
        await load(cache, "a");
        await sleep(20);
        await load(cache, "b");
        await sleep(20);
        await load(cache, "c");
        await cache.evictDisk();
        const present = async (ref: CheckpointRef) =>
          (await stat(entryDir(ref)).catch(() => undefined)) !== undefined;
        expect(await present(refs[0]!)).toBe(false);
        expect(await present(refs[1]!)).toBe(true);
        expect(await present(refs[2]!)).toBe(true);
        expect(cache.stats().diskEvictions).toBe(1);

        // Everything in use: nothing goes, however small the budget.
        const pinned = newCache({ diskMaxBytes: 1 });
        await load(pinned, "b");
        await load(pinned, "c");
        expect(await pinned.evictDisk()).toBe(0);
        // Another cache of this process, with no model of its own, does not evict them either.
        expect(await newCache({ diskMaxBytes: 1 }).evictDisk()).toBe(0);
        expect(await present(refs[1]!)).toBe(true);
        expect(await present(refs[2]!)).toBe(true);
      });

      it("an entry pinned by another live process is not evicted", async () => {
        const ref = await save("a", { payloadBytes: 10_000 });
        const cache = newCache({ maxEntries: 1, diskMaxBytes: 1 });
        await load(cache);
        cache.clear(); // unpinned here
        const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {
          stdio: "ignore",
        });
        try {
          await writeFile(join(`${entryDir(ref)}.pins`, `pin.${HOST}.${child.pid}.abc`), "");
          expect(await cache.evictDisk()).toBe(0);
        } finally {
          child.kill("SIGKILL");
          await new Promise((r) => child.once("exit", r));
        }
        expect(await cache.evictDisk()).toBe(1);
        await expect(stat(entryDir(ref))).rejects.toThrow(/ENOENT/);
      });

      it("diskDir: false downloads into a temp folder per memory miss", async () => {
        await save("v1");
        const cache = newCache({ diskDir: false });
        const a = await load(cache);
        expect(await load(cache)).toBe(a);
        expect(cache.stats()).toMatchObject({ downloads: 1, loads: 1 });
        expect(cache.diskDir).toBeUndefined();
      });
    });

    describe("offline", () => {
      it("serves the last known version from disk without any store call", async () => {
        await save("v1", { handle: "first" });
        const online = newCache();
        await load(online, "first");
        await load(online);
        await save("v2");
        online.invalidate({ pluginInstanceId: id });
        expect((await load(online)).version).toBe("v2");

        const none = forbiddenStore(WS);
        const offline = newCache({ store: none as CheckpointStoreImpl, offline: true });
        const m = await CounterModel.loadRemote({
          store: none,
          pluginInstanceId: id,
          cache: offline,
        });
        expect(m.version).toBe("v2");
        const first = await CounterModel.loadRemote({
          store: none,
          pluginInstanceId: id,
          handle: "first",
          cache: offline,
        });
        expect(first.version).toBe("v1");
        expect(offline.stats()).toMatchObject({ downloads: 0, diskHits: 2 });
      });

      it('verifies offline from the manifest in the marker, at every level (verify: "full" hashes it all)', async () => {
        const ref = await save("v1", { payloadBytes: 50_000 });
        await load(newCache());
        const manifest = await manifestOf(ref);
        const none = forbiddenStore(WS);
        const full = newCache({
          store: none as CheckpointStoreImpl,
          offline: true,
          verify: "full",
        });
        const m = await CounterModel.loadRemote({ store: none, pluginInstanceId: id, cache: full });
        expect(m.version).toBe("v1");
        expect(full.stats()).toMatchObject({
          downloads: 0,
          diskHits: 1,
          repairs: 0,
          verifiedBytes: bytesOf(manifest),
        });
        // A same-size change is caught offline by hashing against the marker's manifest.
        const file = join(entryDir(ref), "weights", "payload.bin");
        const content = await readFile(file);
        content[40_000] = (content[40_000] as number) ^ 0x01;
        await writeFile(file, content);
        const later = newCache({ store: none as CheckpointStoreImpl, offline: true });
        await expect(
          CounterModel.loadRemote({ store: none, pluginInstanceId: id, cache: later }),
        ).rejects.toSatisfy(
          (e) => NotFoundError.isInstance(e) && /damaged.*payload\.bin/.test((e as Error).message),
        );
        expect(later.stats().repairs).toBe(1);
      });

      it("fails with a NotFoundError naming the handle and instance when it is not cached", async () => {
        const none = forbiddenStore(WS);
        const offline = newCache({ store: none as CheckpointStoreImpl, offline: true });
        const error = await CounterModel.loadRemote({
          store: none,
          pluginInstanceId: id,
          handle: "h1",
          cache: offline,
        }).catch((e: unknown) => e);
        expect(NotFoundError.isInstance(error)).toBe(true);
        expect((error as Error).message).toContain(`handle "h1" of ${WS}/${id}`);
        expect((error as Error).message).toMatch(/not cached/);

        // Known handle whose entry was evicted meanwhile.
        const ref = await save("v1");
        await load(newCache());
        await rm(`${entryDir(ref)}.complete.json`);
        const later = newCache({ store: none as CheckpointStoreImpl, offline: true });
        await expect(
          CounterModel.loadRemote({ store: none, pluginInstanceId: id, cache: later }),
        ).rejects.toSatisfy(
          (e) => NotFoundError.isInstance(e) && /no longer on disk/.test((e as Error).message),
        );
      });

      it("a damaged entry is removed, not served, offline", async () => {
        const ref = await save("v1");
        await load(newCache());
        await writeFile(join(entryDir(ref), "version.txt"), "vX");
        const none = forbiddenStore(WS);
        const offline = newCache({ store: none as CheckpointStoreImpl, offline: true });
        await expect(
          CounterModel.loadRemote({ store: none, pluginInstanceId: id, cache: offline }),
        ).rejects.toSatisfy(
          (e) => NotFoundError.isInstance(e) && /damaged/.test((e as Error).message),
        );
        expect(offline.stats().repairs).toBe(1);
        await expect(stat(entryDir(ref))).rejects.toThrow(/ENOENT/);
      });
    });
  });
}
