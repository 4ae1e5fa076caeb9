import { Readable } from "node:stream";
import { ValidationError } from "@trainable/core";
import { expect, it } from "vitest";
import { PreconditionFailedError } from "../backends/precondition-failed-error.js";
import type { ObjectInfo, RemoteBackend } from "../backends/types.js";
import { caught, getText, MIB, patternStream } from "./conformance-helpers.js";
import { describeBackend, type SuiteContext } from "./suite-context.js";

/**
 * `writers` concurrent conditional puts of `writer-{i}` at `key`: exactly one must win, the
 * others fail with `PreconditionFailedError`, and the winner's body is stored. Returns its info.
 */
async function race(
  backend: RemoteBackend,
  key: string,
  writers: number,
  condition: { ifNoneMatch: "*" } | { ifMatch: string },
): Promise<ObjectInfo> {
  const results = await Promise.allSettled(
    Array.from({ length: writers }, (_, i) =>
      backend.put(key, Buffer.from(`writer-${i}`), condition),
    ),
  );
  const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
  expect(winners).toHaveLength(1);
  for (const r of results) {
    if (r.status === "rejected") expect(PreconditionFailedError.isInstance(r.reason)).toBe(true);
  }
  expect(await getText(backend, key)).toBe(`writer-${winners[0]}`);
  return (results[winners[0]!] as PromiseFulfilledResult<ObjectInfo>).value;
}

/** Create-only writes (ifNoneMatch: '*'). */
export function createOnlyTests(s: SuiteContext): void {
  describeBackend(s, "create-only (ifNoneMatch: '*')", (backend) => {
    it("creates once; a second put fails with PreconditionFailedError and changes nothing", async () => {
      if (!backend().capabilities.createOnly) return;
      const key = `${s.ns()}once`;
      const first = await backend().put(key, Buffer.from("first"), { ifNoneMatch: "*" });
      const error = await caught(backend().put(key, Buffer.from("second"), { ifNoneMatch: "*" }));
      expect(PreconditionFailedError.isInstance(error)).toBe(true);
      expect((error as PreconditionFailedError).key).toBe(key);
      const streamed = await caught(
        backend().put(key, Readable.from([Buffer.from("third")]), { ifNoneMatch: "*" }),
      );
      expect(PreconditionFailedError.isInstance(streamed)).toBe(true);
      expect(await getText(backend(), key)).toBe("first");
      expect((await backend().head(key))?.etag).toBe(first.etag);
    });

    it("refuses a big streamed body when the key exists, leaving the object intact", async () => {
      if (!backend().capabilities.createOnly) return;
      const key = `${s.ns()}big-once`;
      await backend().put(key, Buffer.from("small original"), { ifNoneMatch: "*" });
      const error = await caught(
        backend().put(key, patternStream(12 * MIB, key), { ifNoneMatch: "*" }),
      );
      const limit = backend().capabilities.conditionalMaxBytes;
      if (limit !== undefined && limit < 12 * MIB) {
        // Over the declared limit: refused outright, never "HEAD, then upload".
        expect(ValidationError.isInstance(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/needs a server that checks the condition/);
      } else {
        expect(PreconditionFailedError.isInstance(error)).toBe(true);
      }
      expect(await getText(backend(), key)).toBe("small original");
    });

    it("a big create-only body over the declared limit is refused before anything is stored", async () => {
      const limit = backend().capabilities.conditionalMaxBytes;
      if (!backend().capabilities.createOnly || limit === undefined) return;
      const key = `${s.ns()}big-new`;
      const error = await caught(
        backend().put(key, patternStream(limit + MIB, key), { ifNoneMatch: "*" }),
      );
      expect(ValidationError.isInstance(error), String(error)).toBe(true);
      expect(await backend().head(key)).toBeUndefined();
    });

    it("lets exactly one of 16 concurrent creators win", async () => {
      if (!backend().capabilities.createOnly) return;
      const key = `${s.ns()}race`;
      await race(backend(), key, 16, { ifNoneMatch: "*" });
    });
  });
}

/** Compare-and-swap writes (ifMatch). */
export function compareAndSwapTests(s: SuiteContext): void {
  describeBackend(s, "compare-and-swap (ifMatch)", (backend) => {
    it("replaces only when the ETag matches (quoted or not), and fails on a missing key", async () => {
      if (!backend().capabilities.compareAndSwap) {
        const key = `${s.ns()}no-cas`;
        const put = await backend().put(key, Buffer.from("v1"));
        await caught(backend().put(key, Buffer.from("v2"), { ifMatch: put.etag }));
        expect(await getText(backend(), key)).toBe("v1");
        return;
      }
      const key = `${s.ns()}cas`;
      const v1 = await backend().put(key, Buffer.from("v1"));
      const v2 = await backend().put(key, Buffer.from("v2"), { ifMatch: v1.etag });
      expect(v2.etag).not.toBe(v1.etag);
      const stale = await caught(backend().put(key, Buffer.from("v3"), { ifMatch: v1.etag }));
      expect(PreconditionFailedError.isInstance(stale)).toBe(true);
      expect(await getText(backend(), key)).toBe("v2");
      const v4 = await backend().put(key, Readable.from(["v4"]), { ifMatch: `"${v2.etag}"` });
      expect(await getText(backend(), key)).toBe("v4");
      expect((await backend().head(key))?.etag).toBe(v4.etag);
      const missing = await caught(
        backend().put(`${s.ns()}absent`, Buffer.from("x"), { ifMatch: v4.etag }),
      );
      expect(PreconditionFailedError.isInstance(missing)).toBe(true);
    });

    it("lets exactly one of 8 concurrent writers from the same ETag win", async () => {
      if (!backend().capabilities.compareAndSwap) return;
      const key = `${s.ns()}cas-race`;
      const base = await backend().put(key, Buffer.from("base"));
      const won = await race(backend(), key, 8, { ifMatch: base.etag });
      expect((await backend().head(key))?.etag).toBe(won.etag);
    });
  });
}
