import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { NotFoundError, ValidationError } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { expect, it } from "vitest";
import {
  caught,
  collect,
  digestOf,
  getText,
  MIB,
  patternChunks,
  patternDigest,
  patternStream,
  readAll,
} from "./conformance-helpers.js";
import { describeBackend, type SuiteContext } from "./suite-context.js";

/** Round trips of every body kind and size. */
export function roundTripTests(s: SuiteContext): void {
  describeBackend(s, "round trips", (backend) => {
    it("round-trips a Uint8Array body, with consistent info from put, get and head", async () => {
      const key = `${s.ns()}small.bin`;
      const data = randomBytes(1234);
      const put = await backend().put(key, new Uint8Array(data), { contentLength: data.length });
      expect(put.key).toBe(key);
      expect(put.size).toBe(1234);
      expect(put.etag).toMatch(/^[^"]+$/);
      const { body, info } = await backend().get(key);
      expect((await readAll(body)).equals(data)).toBe(true);
      expect(info).toMatchObject({ key, size: 1234, etag: put.etag });
      const head = await backend().head(key);
      expect(head).toMatchObject({ key, size: 1234, etag: put.etag });
    });

    it("round-trips a Readable body of several chunks (strings and buffers)", async () => {
      const key = `${s.ns()}stream.txt`;
      const put = await backend().put(
        key,
        Readable.from(["hello ", Buffer.from("streaming "), "world"]),
      );
      expect(put.size).toBe("hello streaming world".length);
      expect(await getText(backend(), key)).toBe("hello streaming world");
      expect((await backend().head(key))?.etag).toBe(put.etag);
    });

    it("stores 0-byte objects from a Uint8Array and from an empty stream", async () => {
      const p = s.ns();
      const a = await backend().put(`${p}empty-a`, new Uint8Array(0));
      const b = await backend().put(`${p}empty-b`, Readable.from([]));
      expect(a.size).toBe(0);
      expect(b.size).toBe(0);
      for (const key of [`${p}empty-a`, `${p}empty-b`]) {
        const { body, info } = await backend().get(key);
        expect((await readAll(body)).length).toBe(0);
        expect(info.size).toBe(0);
        expect((await backend().head(key))?.size).toBe(0);
      }
    });

    it(`streams a ${Math.round(s.bigBytes / MIB)} MiB body from a generator, and range-reads across parts`, async () => {
      const key = `${s.ns()}big.bin`;
      let progress = 0;
      const put = await backend().put(key, patternStream(s.bigBytes, key), {
        onProgress: (sent) => {
          expect(sent).toBeGreaterThanOrEqual(progress);
          progress = sent;
        },
      });
      expect(put.size).toBe(s.bigBytes);
      expect(put.etag.length).toBeGreaterThan(0);
      expect(progress).toBe(s.bigBytes);
      const head = await backend().head(key);
      expect(head).toMatchObject({ size: s.bigBytes, etag: put.etag });
      const { body, info } = await backend().get(key);
      expect(info.size).toBe(s.bigBytes);
      expect(await digestOf(body)).toEqual({
        sha256: patternDigest(s.bigBytes, key),
        size: s.bigBytes,
      });
      const expected = Buffer.concat([...patternChunks(s.bigBytes, key)]).subarray(
        8 * MIB - 10,
        8 * MIB + 10,
      );
      const range = await backend().get(key, { range: { start: 8 * MIB - 10, end: 8 * MIB + 9 } });
      expect((await readAll(range.body)).equals(expected)).toBe(true);
    });
  });
}

/** Reads of missing keys and byte ranges. */
export function readTests(s: SuiteContext): void {
  describeBackend(s, "reads", (backend) => {
    it("answers head → undefined and get → NotFoundError for a missing key", async () => {
      const key = `${s.ns()}missing`;
      expect(await backend().head(key)).toBeUndefined();
      const error = await caught(backend().get(key));
      expect(NotFoundError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(key);
    });

    it("reads byte ranges (inclusive, open-ended, clamped) and rejects a start past the end", async () => {
      const key = `${s.ns()}range.txt`;
      await backend().put(key, Buffer.from("0123456789abcdef"));
      const read = async (range: { start: number; end?: number }) => {
        const { body, info } = await backend().get(key, { range });
        expect(info.size).toBe(16);
        return (await readAll(body)).toString();
      };
      expect(await read({ start: 5, end: 9 })).toBe("56789");
      expect(await read({ start: 10 })).toBe("abcdef");
      expect(await read({ start: 0, end: 0 })).toBe("0");
      expect(await read({ start: 14, end: 100 })).toBe("ef");
      const error = await caught(backend().get(key, { range: { start: 16 } }));
      expect(ValidationError.isInstance(error)).toBe(true);
      expect(
        ValidationError.isInstance(
          await caught(backend().get(key, { range: { start: 5, end: 2 } })),
        ),
      ).toBe(true);
    });
  });
}

/** Listing by prefix. */
export function listTests(s: SuiteContext): void {
  describeBackend(s, "listing", (backend) => {
    it("lists by prefix, recursively, in lexicographic order", async () => {
      const p = s.ns();
      const names = ["b", "a/e", "ab", "a/b/d", "a-c", "a/b/c"];
      await Promise.all(names.map((n) => backend().put(`${p}${n}`, Buffer.from(n))));
      const keys = async (prefix: string) =>
        (await collect(backend().list(prefix))).map((i) => i.key);
      expect(await keys(p)).toEqual(["a-c", "a/b/c", "a/b/d", "a/e", "ab", "b"].map((n) => p + n));
      expect(await keys(`${p}a/`)).toEqual(["a/b/c", "a/b/d", "a/e"].map((n) => p + n));
      expect(await keys(`${p}a`)).toEqual(["a-c", "a/b/c", "a/b/d", "a/e", "ab"].map((n) => p + n));
      expect(await keys(`${p}a/b`)).toEqual(["a/b/c", "a/b/d"].map((n) => p + n));
      expect(await keys(`${p}zzz`)).toEqual([]);
      expect(await keys(`${s.run}/no-such-folder/`)).toEqual([]);
      const infos = await collect(backend().list(`${p}a/b/`));
      expect(infos.map((i) => i.size)).toEqual([5, 5]);
      for (const info of infos) expect(info.etag).toBe((await backend().head(info.key))?.etag);
    });

    it(`lists ${s.manyKeys} keys (pagination)`, async () => {
      const p = s.ns();
      const names = Array.from(
        { length: s.manyKeys },
        (_, i) => `${p}k${String(i).padStart(5, "0")}`,
      );
      await mapLimit(names, 32, (key) => backend().put(key, Buffer.from("x")));
      const listed = (await collect(backend().list(p))).map((i) => i.key);
      expect(listed).toEqual(names);
    });
  });
}

/** Overwrites and deletes. */
export function writeTests(s: SuiteContext): void {
  describeBackend(s, "overwrites and deletes", (backend) => {
    it("overwrites an object and changes its ETag", async () => {
      const key = `${s.ns()}over`;
      const first = await backend().put(key, Buffer.from("one"));
      const second = await backend().put(key, Buffer.from("two"));
      expect(second.etag).not.toBe(first.etag);
      expect(await getText(backend(), key)).toBe("two");
      const third = await backend().put(key, Buffer.from("two"));
      expect(await getText(backend(), key)).toBe("two");
      expect((await backend().head(key))?.etag).toBe(third.etag);
    });

    it("deletes objects; deleting a missing key is not an error", async () => {
      const p = s.ns();
      await backend().put(`${p}x/y`, Buffer.from("y"));
      await backend().put(`${p}x/z`, Buffer.from("z"));
      await backend().delete(`${p}x/y`);
      expect(await backend().head(`${p}x/y`)).toBeUndefined();
      expect(NotFoundError.isInstance(await caught(backend().get(`${p}x/y`)))).toBe(true);
      expect((await collect(backend().list(p))).map((i) => i.key)).toEqual([`${p}x/z`]);
      await backend().delete(`${p}x/y`);
      await backend().delete(`${p}never/was`);
      await backend().delete(`${p}x/z`);
      expect(await collect(backend().list(p))).toEqual([]);
      await backend().put(`${p}x/y`, Buffer.from("again"));
      expect(await getText(backend(), `${p}x/y`)).toBe("again");
    });
  });
}
