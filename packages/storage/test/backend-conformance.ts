import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { CancelledError, NotFoundError, RemoteError, ValidationError } from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PreconditionFailedError } from "../src/backends/precondition-failed-error.js";
import type { ObjectInfo, RemoteBackend } from "../src/backends/types.js";

export interface BackendTestOptions {
  /** Shown in the describe block. */
  name: string;
  /** Builds the backend under test (once per suite). Keys the suite writes are under `conformance-*`. */
  create: () => Promise<RemoteBackend>;
  /** Keys written for the many-keys listing test (default 50; S3 pages hold 1000). */
  manyKeys?: number;
  /** Size of the big streamed body (default 20 MiB: three 8 MiB parts on S3). */
  bigBytes?: number;
}

const MIB = 1024 * 1024;

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function digestOf(body: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Deterministic pseudo-random 1 MiB chunks adding up to `bytes`. */
function* patternChunks(bytes: number, seed: string): Generator<Buffer> {
  const block = Buffer.alloc(MIB);
  let counter = createHash("sha256").update(seed).digest();
  for (let offset = 0; offset < block.length; offset += counter.length) {
    counter.copy(block, offset);
    counter = createHash("sha256").update(counter).digest();
  }
  for (let i = 0; i * MIB < bytes; i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MIB, bytes - i * MIB)));
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

function patternDigest(bytes: number, seed: string): string {
  const hash = createHash("sha256");
  for (const chunk of patternChunks(bytes, seed)) hash.update(chunk);
  return hash.digest("hex");
}

/** A stream of `bytes` pattern bytes produced lazily by an async generator. */
function patternStream(bytes: number, seed: string): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of patternChunks(bytes, seed)) {
        yield chunk;
        await new Promise((r) => setImmediate(r));
      }
    })(),
  );
}

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

async function getText(backend: RemoteBackend, key: string): Promise<string> {
  const { body } = await backend.get(key);
  return (await readAll(body)).toString("utf8");
}

async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/**
 * The conformance suite every `RemoteBackend` must pass (after unstorage's `testBackend`):
 * round trips of every body kind and size, head/get/range/list/delete semantics, create-only
 * and compare-and-swap under concurrency (when declared), cancellation and key validation.
 */
export function testBackend(options: BackendTestOptions): void {
  const manyKeys = options.manyKeys ?? 50;
  const bigBytes = options.bigBytes ?? 20 * MIB;

  describe(`${options.name} backend (conformance)`, () => {
    let backend: RemoteBackend;
    let counter = 0;
    const run = `conformance-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
    /** A fresh folder-like prefix per test. */
    const ns = () => `${run}/t${counter++}/`;

    beforeAll(async () => {
      backend = await options.create();
    });

    afterAll(async () => {
      await backend?.close?.();
    });

    it("declares its name, capabilities and a description", () => {
      expect(typeof backend.name).toBe("string");
      expect(backend.name.length).toBeGreaterThan(0);
      expect(typeof backend.description).toBe("string");
      expect(typeof backend.capabilities.createOnly).toBe("boolean");
      expect(typeof backend.capabilities.compareAndSwap).toBe("boolean");
      expect(typeof backend.capabilities.rangeReads).toBe("boolean");
    });

    it("round-trips a Uint8Array body, with consistent info from put, get and head", async () => {
      const key = `${ns()}small.bin`;
      const data = randomBytes(1234);
      const put = await backend.put(key, new Uint8Array(data), { contentLength: data.length });
      expect(put.key).toBe(key);
      expect(put.size).toBe(1234);
      expect(put.etag).toMatch(/^[^"]+$/);
      const { body, info } = await backend.get(key);
      expect((await readAll(body)).equals(data)).toBe(true);
      expect(info).toMatchObject({ key, size: 1234, etag: put.etag });
      const head = await backend.head(key);
      expect(head).toMatchObject({ key, size: 1234, etag: put.etag });
    });

    it("round-trips a Readable body of several chunks (strings and buffers)", async () => {
      const key = `${ns()}stream.txt`;
      const put = await backend.put(
        key,
        Readable.from(["hello ", Buffer.from("streaming "), "world"]),
      );
      expect(put.size).toBe("hello streaming world".length);
      expect(await getText(backend, key)).toBe("hello streaming world");
      expect((await backend.head(key))?.etag).toBe(put.etag);
    });

    it("stores 0-byte objects from a Uint8Array and from an empty stream", async () => {
      const p = ns();
      const a = await backend.put(`${p}empty-a`, new Uint8Array(0));
      const b = await backend.put(`${p}empty-b`, Readable.from([]));
      expect(a.size).toBe(0);
      expect(b.size).toBe(0);
      for (const key of [`${p}empty-a`, `${p}empty-b`]) {
        const { body, info } = await backend.get(key);
        expect((await readAll(body)).length).toBe(0);
        expect(info.size).toBe(0);
        expect((await backend.head(key))?.size).toBe(0);
      }
    });

    it(`streams a ${Math.round(bigBytes / MIB)} MiB body from a generator, and range-reads across parts`, async () => {
      const key = `${ns()}big.bin`;
      let progress = 0;
      const put = await backend.put(key, patternStream(bigBytes, key), {
        onProgress: (sent) => {
          expect(sent).toBeGreaterThanOrEqual(progress);
          progress = sent;
        },
      });
      expect(put.size).toBe(bigBytes);
      expect(put.etag.length).toBeGreaterThan(0);
      expect(progress).toBe(bigBytes);
      const head = await backend.head(key);
      expect(head).toMatchObject({ size: bigBytes, etag: put.etag });
      const { body, info } = await backend.get(key);
      expect(info.size).toBe(bigBytes);
      expect(await digestOf(body)).toEqual({
        sha256: patternDigest(bigBytes, key),
        size: bigBytes,
      });
      const expected = Buffer.concat([...patternChunks(bigBytes, key)]).subarray(
        8 * MIB - 10,
        8 * MIB + 10,
      );
      const range = await backend.get(key, { range: { start: 8 * MIB - 10, end: 8 * MIB + 9 } });
      expect((await readAll(range.body)).equals(expected)).toBe(true);
    });

    it("answers head → undefined and get → NotFoundError for a missing key", async () => {
      const key = `${ns()}missing`;
      expect(await backend.head(key)).toBeUndefined();
      const error = await caught(backend.get(key));
      expect(NotFoundError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(key);
    });

    it("reads byte ranges (inclusive, open-ended, clamped) and rejects a start past the end", async () => {
      const key = `${ns()}range.txt`;
      await backend.put(key, Buffer.from("0123456789abcdef"));
      const read = async (range: { start: number; end?: number }) => {
        const { body, info } = await backend.get(key, { range });
        expect(info.size).toBe(16);
        return (await readAll(body)).toString();
      };
      expect(await read({ start: 5, end: 9 })).toBe("56789");
      expect(await read({ start: 10 })).toBe("abcdef");
      expect(await read({ start: 0, end: 0 })).toBe("0");
      expect(await read({ start: 14, end: 100 })).toBe("ef");
      const error = await caught(backend.get(key, { range: { start: 16 } }));
      expect(ValidationError.isInstance(error)).toBe(true);
      expect(
        ValidationError.isInstance(await caught(backend.get(key, { range: { start: 5, end: 2 } }))),
      ).toBe(true);
    });

    it("lists by prefix, recursively, in lexicographic order", async () => {
      const p = ns();
      const names = ["b", "a/e", "ab", "a/b/d", "a-c", "a/b/c"];
      await Promise.all(names.map((n) => backend.put(`${p}${n}`, Buffer.from(n))));
      const keys = async (prefix: string) =>
        (await collect(backend.list(prefix))).map((i) => i.key);
      expect(await keys(p)).toEqual(["a-c", "a/b/c", "a/b/d", "a/e", "ab", "b"].map((n) => p + n));
      expect(await keys(`${p}a/`)).toEqual(["a/b/c", "a/b/d", "a/e"].map((n) => p + n));
      expect(await keys(`${p}a`)).toEqual(["a-c", "a/b/c", "a/b/d", "a/e", "ab"].map((n) => p + n));
      expect(await keys(`${p}a/b`)).toEqual(["a/b/c", "a/b/d"].map((n) => p + n));
      expect(await keys(`${p}zzz`)).toEqual([]);
      expect(await keys(`${run}/no-such-folder/`)).toEqual([]);
      const infos = await collect(backend.list(`${p}a/b/`));
      expect(infos.map((i) => i.size)).toEqual([5, 5]);
      for (const info of infos) expect(info.etag).toBe((await backend.head(info.key))?.etag);
    });

    it(`lists ${manyKeys} keys (pagination)`, async () => {
      const p = ns();
      const names = Array.from(
        { length: manyKeys },
        (_, i) => `${p}k${String(i).padStart(5, "0")}`,
      );
      await mapLimit(names, 32, (key) => backend.put(key, Buffer.from("x")));
      const listed = (await collect(backend.list(p))).map((i) => i.key);
      expect(listed).toEqual(names);
    });

    it("overwrites an object and changes its ETag", async () => {
      const key = `${ns()}over`;
      const first = await backend.put(key, Buffer.from("one"));
      const second = await backend.put(key, Buffer.from("two"));
      expect(second.etag).not.toBe(first.etag);
      expect(await getText(backend, key)).toBe("two");
      const third = await backend.put(key, Buffer.from("two"));
      expect(await getText(backend, key)).toBe("two");
      expect((await backend.head(key))?.etag).toBe(third.etag);
    });

    it("deletes objects; deleting a missing key is not an error", async () => {
      const p = ns();
      await backend.put(`${p}x/y`, Buffer.from("y"));
      await backend.put(`${p}x/z`, Buffer.from("z"));
      await backend.delete(`${p}x/y`);
      expect(await backend.head(`${p}x/y`)).toBeUndefined();
      expect(NotFoundError.isInstance(await caught(backend.get(`${p}x/y`)))).toBe(true);
      expect((await collect(backend.list(p))).map((i) => i.key)).toEqual([`${p}x/z`]);
      await backend.delete(`${p}x/y`);
      await backend.delete(`${p}never/was`);
      await backend.delete(`${p}x/z`);
      expect(await collect(backend.list(p))).toEqual([]);
      await backend.put(`${p}x/y`, Buffer.from("again"));
      expect(await getText(backend, `${p}x/y`)).toBe("again");
    });

    describe("create-only (ifNoneMatch: '*')", () => {
      it("creates once; a second put fails with PreconditionFailedError and changes nothing", async () => {
        if (!backend.capabilities.createOnly) return;
        const key = `${ns()}once`;
        const first = await backend.put(key, Buffer.from("first"), { ifNoneMatch: "*" });
        const error = await caught(backend.put(key, Buffer.from("second"), { ifNoneMatch: "*" }));
        expect(PreconditionFailedError.isInstance(error)).toBe(true);
        expect((error as PreconditionFailedError).key).toBe(key);
        const streamed = await caught(
          backend.put(key, Readable.from([Buffer.from("third")]), { ifNoneMatch: "*" }),
        );
        expect(PreconditionFailedError.isInstance(streamed)).toBe(true);
        expect(await getText(backend, key)).toBe("first");
        expect((await backend.head(key))?.etag).toBe(first.etag);
      });

      it("refuses a big streamed body when the key exists, leaving the object intact", async () => {
        if (!backend.capabilities.createOnly) return;
        const key = `${ns()}big-once`;
        await backend.put(key, Buffer.from("small original"), { ifNoneMatch: "*" });
        const error = await caught(
          backend.put(key, patternStream(12 * MIB, key), { ifNoneMatch: "*" }),
        );
        const limit = backend.capabilities.conditionalMaxBytes;
        if (limit !== undefined && limit < 12 * MIB) {
          // Over the declared limit: refused outright, never "HEAD, then upload".
          expect(ValidationError.isInstance(error), String(error)).toBe(true);
          expect((error as Error).message).toMatch(/needs a server that checks the condition/);
        } else {
          expect(PreconditionFailedError.isInstance(error)).toBe(true);
        }
        expect(await getText(backend, key)).toBe("small original");
      });

      it("a big create-only body over the declared limit is refused before anything is stored", async () => {
        const limit = backend.capabilities.conditionalMaxBytes;
        if (!backend.capabilities.createOnly || limit === undefined) return;
        const key = `${ns()}big-new`;
        const error = await caught(
          backend.put(key, patternStream(limit + MIB, key), { ifNoneMatch: "*" }),
        );
        expect(ValidationError.isInstance(error), String(error)).toBe(true);
        expect(await backend.head(key)).toBeUndefined();
      });

      it("lets exactly one of 16 concurrent creators win", async () => {
        if (!backend.capabilities.createOnly) return;
        const key = `${ns()}race`;
        const results = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) =>
            backend.put(key, Buffer.from(`writer-${i}`), { ifNoneMatch: "*" }),
          ),
        );
        const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected")
            expect(PreconditionFailedError.isInstance(r.reason)).toBe(true);
        }
        expect(await getText(backend, key)).toBe(`writer-${winners[0]}`);
      });
    });

    describe("compare-and-swap (ifMatch)", () => {
      it("replaces only when the ETag matches (quoted or not), and fails on a missing key", async () => {
        if (!backend.capabilities.compareAndSwap) {
          const key = `${ns()}no-cas`;
          const put = await backend.put(key, Buffer.from("v1"));
          await caught(backend.put(key, Buffer.from("v2"), { ifMatch: put.etag }));
          expect(await getText(backend, key)).toBe("v1");
          return;
        }
        const key = `${ns()}cas`;
        const v1 = await backend.put(key, Buffer.from("v1"));
        const v2 = await backend.put(key, Buffer.from("v2"), { ifMatch: v1.etag });
        expect(v2.etag).not.toBe(v1.etag);
        const stale = await caught(backend.put(key, Buffer.from("v3"), { ifMatch: v1.etag }));
        expect(PreconditionFailedError.isInstance(stale)).toBe(true);
        expect(await getText(backend, key)).toBe("v2");
        const v4 = await backend.put(key, Readable.from(["v4"]), { ifMatch: `"${v2.etag}"` });
        expect(await getText(backend, key)).toBe("v4");
        expect((await backend.head(key))?.etag).toBe(v4.etag);
        const missing = await caught(
          backend.put(`${ns()}absent`, Buffer.from("x"), { ifMatch: v4.etag }),
        );
        expect(PreconditionFailedError.isInstance(missing)).toBe(true);
      });

      it("lets exactly one of 8 concurrent writers from the same ETag win", async () => {
        if (!backend.capabilities.compareAndSwap) return;
        const key = `${ns()}cas-race`;
        const base = await backend.put(key, Buffer.from("base"));
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            backend.put(key, Buffer.from(`writer-${i}`), { ifMatch: base.etag }),
          ),
        );
        const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected")
            expect(PreconditionFailedError.isInstance(r.reason)).toBe(true);
        }
        expect(await getText(backend, key)).toBe(`writer-${winners[0]}`);
        const won = results[winners[0]!] as PromiseFulfilledResult<ObjectInfo>;
        expect((await backend.head(key))?.etag).toBe(won.value.etag);
      });
    });

    describe("cancellation", () => {
      /** 12 MiB, then the signal is aborted while the stream waits for more. */
      function stallingBody(controller: AbortController): Readable {
        return Readable.from(
          (async function* () {
            yield* patternChunks(12 * MIB, "stall");
            setTimeout(() => controller.abort(), 100);
            await new Promise((resolve) => controller.signal.addEventListener("abort", resolve));
            yield Buffer.from("never stored");
          })(),
        );
      }

      for (const mode of ["plain", "create-only"] as const) {
        it(`aborting a big ${mode} put rejects and leaves nothing at the key`, async () => {
          if (mode === "create-only" && !backend.capabilities.createOnly) return;
          if (mode === "create-only" && backend.capabilities.conditionalMaxBytes !== undefined) {
            return; // such a put is refused up front (see above)
          }
          const p = ns();
          const key = `${p}aborted.bin`;
          const controller = new AbortController();
          const error = await caught(
            backend.put(key, stallingBody(controller), {
              signal: controller.signal,
              ...(mode === "create-only" ? { ifNoneMatch: "*" as const } : {}),
            }),
          );
          expect(CancelledError.isInstance(error) || RemoteError.isInstance(error)).toBe(true);
          expect(await backend.head(key)).toBeUndefined();
          expect(await collect(backend.list(p))).toEqual([]);
          // The key is still free for a later writer.
          await backend.put(key, Buffer.from("after"), { ifNoneMatch: "*" });
          expect(await getText(backend, key)).toBe("after");
        });
      }

      it("rejects every operation with CancelledError when the signal is already aborted", async () => {
        const key = `${ns()}pre-aborted`;
        await backend.put(key, Buffer.from("x"));
        const signal = AbortSignal.abort();
        const errors = [
          await caught(backend.put(`${key}-2`, Buffer.from("y"), { signal })),
          await caught(backend.get(key, { signal })),
          await caught(backend.head(key, { signal })),
          await caught(collect(backend.list(key, { signal }))),
          await caught(backend.delete(key, { signal })),
        ];
        for (const error of errors) expect(CancelledError.isInstance(error)).toBe(true);
        expect(await backend.head(`${key}-2`)).toBeUndefined();
        expect(await getText(backend, key)).toBe("x");
      });
    });

    it("rejects malformed keys with a ValidationError before any I/O", async () => {
      const bad = ["", "/abs", "a//b", "a/../b", "..", "./a", "a\\b", "a/", "x/\u0000", ".~tmp.x"];
      for (const key of bad) {
        for (const op of [
          () => backend.put(key, Buffer.from("x")),
          () => backend.get(key),
          () => backend.head(key),
          () => backend.delete(key),
        ]) {
          const error = await caught(op());
          expect(ValidationError.isInstance(error), `key ${JSON.stringify(key)}`).toBe(true);
        }
      }
      expect(ValidationError.isInstance(await caught(collect(backend.list("../x"))))).toBe(true);
    });
  });
}
