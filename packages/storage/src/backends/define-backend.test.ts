import { Readable } from "node:stream";
import {
  CancelledError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { describe, expect, it } from "vitest";
import { type BackendDriver, defineBackend } from "./define-backend.js";
import type { ObjectInfo } from "./types.js";

const info = (key: string): ObjectInfo => ({ key, size: 1, etag: "e" });

/** A driver that records what reaches it; each method does what `impl` says. */
function recording(impl: Partial<BackendDriver> = {}) {
  const calls: string[] = [];
  const driver: BackendDriver = {
    async put(key, body, options) {
      calls.push(`put ${key}`);
      return impl.put ? impl.put(key, body, options) : info(key);
    },
    async get(key, options) {
      calls.push(`get ${key}`);
      return impl.get
        ? impl.get(key, options)
        : { body: Readable.from([Buffer.from("x")]), info: info(key) };
    },
    async head(key, options) {
      calls.push(`head ${key}`);
      return impl.head ? impl.head(key, options) : info(key);
    },
    async *list(prefix, options) {
      calls.push(`list ${prefix}`);
      if (impl.list) yield* impl.list(prefix, options);
      else for (const n of ["a", "b", "c", "d"]) yield info(`${prefix}${n}`);
    },
    async delete(key, options) {
      calls.push(`delete ${key}`);
      if (impl.delete) await impl.delete(key, options);
    },
    async sweep(prefix) {
      calls.push(`sweep ${prefix}`);
      return { removed: 0, bytes: 0 };
    },
    ...(impl.listPrefixes ? { listPrefixes: impl.listPrefixes } : {}),
  };
  const backend = defineBackend({
    name: "rec",
    description: "rec://",
    capabilities: { createOnly: true, compareAndSwap: true, rangeReads: true },
    driver,
  });
  return { backend, calls };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

describe("defineBackend", () => {
  it("validates keys, prefixes, ranges and put options before the driver sees anything", async () => {
    const { backend, calls } = recording();
    for (const op of [
      () => backend.put("../x", Buffer.from("x")),
      () => backend.put("k", Buffer.from("x"), { ifNoneMatch: "yes" as "*" }),
      () => backend.put("k", Buffer.from("x"), { contentLength: 5 }),
      () => backend.put("k", "text" as never),
      () => backend.get("a//b"),
      () => backend.get("k", { range: { start: -1 } }),
      () => backend.head(".~lock.k"),
      () => backend.delete(""),
      async () => {
        for await (const _ of backend.list("/abs")) void _;
      },
      () => backend.sweep!("no-slash"),
    ]) {
      const error = await caught(op());
      expect(ValidationError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/^\[storage\] \[rec\] /);
    }
    expect(calls).toEqual([]);
  });

  it("fails an operation with an aborted signal with CancelledError, without calling the driver", async () => {
    const { backend, calls } = recording();
    const signal = AbortSignal.abort();
    const body = Readable.from([Buffer.from("x")]);
    const errors = [
      await caught(backend.put("k", body, { signal })),
      await caught(backend.get("k", { signal })),
      await caught(backend.head("k", { signal })),
      await caught(backend.delete("k", { signal })),
      await caught(backend.sweep!("p/", { signal })),
    ];
    for (const error of errors) expect(CancelledError.isInstance(error)).toBe(true);
    expect(calls).toEqual([]);
    expect(body.destroyed, "a refused put's body stream is destroyed").toBe(true);
  });

  it("maps what the driver throws: TrainableErrors pass, aborts cancel, the rest is a RemoteError with the prefix", async () => {
    const notFound = new NotFoundError('[storage] [rec] No object at "k"');
    const { backend } = recording({
      head: async () => {
        throw notFound;
      },
      get: async () => {
        throw Object.assign(new Error("boom"), { code: "EIO" });
      },
      delete: async () => {
        throw new DOMException("stopped", "AbortError");
      },
    });
    expect(await caught(backend.head("k"))).toBe(notFound);
    const remote = await caught(backend.get("k"));
    expect(RemoteError.isInstance(remote)).toBe(true);
    expect((remote as Error).message).toBe('[storage] [rec] get "k" failed: EIO');
    expect((remote as RemoteError).retryable).toBe(false);
    const cancelled = await caught(backend.delete("k"));
    expect(CancelledError.isInstance(cancelled)).toBe(true);
    expect((cancelled as Error).message).toBe('[storage] [rec] delete "k" cancelled');
  });

  it("uses the driver's mapError for its own errors only", async () => {
    const backend = defineBackend({
      name: "mapped",
      description: "m://",
      capabilities: { createOnly: false, compareAndSwap: false, rangeReads: false },
      mapError: (error, { op, key }) =>
        new TrainableError("NOT_SUPPORTED", `[storage] [mapped] ${op} ${key}: ${String(error)}`),
      driver: {
        ...recording().backend,
        put: async () => {
          throw "raw";
        },
        get: async () => {
          throw new NotFoundError("nope");
        },
      } as unknown as BackendDriver,
    });
    const mapped = await caught(backend.put("k", Buffer.from("x")));
    expect((mapped as TrainableError).code).toBe("NOT_SUPPORTED");
    expect((mapped as Error).message).toBe("[storage] [mapped] put k: raw");
    expect(NotFoundError.isInstance(await caught(backend.get("k")))).toBe(true);
  });

  it("destroys a put's body stream when the driver fails", async () => {
    const { backend } = recording({
      put: async () => {
        throw new Error("disk full");
      },
    });
    const body = new Readable({ read() {} });
    await caught(backend.put("k", body));
    expect(body.destroyed).toBe(true);
  });

  it("stops a listing at its limit whatever the driver yields", async () => {
    const { backend } = recording();
    const keys = async (limit?: number) => {
      const out: string[] = [];
      for await (const item of backend.list("p/", limit === undefined ? {} : { limit })) {
        out.push(item.key);
      }
      return out;
    };
    expect(await keys()).toEqual(["p/a", "p/b", "p/c", "p/d"]);
    expect(await keys(2)).toEqual(["p/a", "p/b"]);
    expect(await keys(0)).toEqual([]);
  });

  it("gives a driver without listPrefixes one that walks list, streaming, each folder once", async () => {
    const keys = ["p/a-b/1", "p/a/1", "p/a/2", "p/a/x/3", "p/b/1", "p/top"];
    let pulled = 0;
    let closed = false;
    const { backend, calls } = recording({
      async *list() {
        try {
          for (const key of keys) {
            pulled++;
            yield info(key);
          }
        } finally {
          closed = true;
        }
      },
    });
    const seen: Array<[string, number]> = [];
    for await (const name of backend.listPrefixes!("p/")) seen.push([name, pulled]);
    // Each name as soon as its first key arrived; "top" is a key, not a folder.
    expect(seen).toEqual([
      ["a-b", 1],
      ["a", 2],
      ["b", 5],
    ]);
    expect(calls).toEqual(["list p/"]);
    pulled = 0;
    closed = false;
    const first: string[] = [];
    for await (const name of backend.listPrefixes!("p/", { limit: 1 })) first.push(name);
    expect(first).toEqual(["a-b"]);
    expect(pulled).toBe(1);
    expect(closed).toBe(true);
  });

  it("uses the driver's own listPrefixes, stopping at the limit", async () => {
    const { backend, calls } = recording({
      async *listPrefixes(prefix) {
        calls.push(`listPrefixes ${prefix}`);
        yield* ["x", "y", "z"];
      },
    });
    const names = async (limit?: number) => {
      const out: string[] = [];
      for await (const name of backend.listPrefixes!("", { limit })) out.push(name);
      return out;
    };
    expect(await names()).toEqual(["x", "y", "z"]);
    expect(await names(2)).toEqual(["x", "y"]);
    expect(calls).toEqual(["listPrefixes ", "listPrefixes "]);
  });

  it("ties a get's body to the signal: aborting later destroys the stream", async () => {
    const { backend } = recording({
      get: async (key) => ({ body: new Readable({ read() {} }), info: info(key) }),
    });
    const controller = new AbortController();
    const { body } = await backend.get("k", { signal: controller.signal });
    const failed = new Promise((resolve) => body.once("error", resolve));
    controller.abort();
    expect(((await failed) as Error).name).toBe("AbortError");
    expect(body.destroyed).toBe(true);
  });

  it("refuses a name that cannot prefix messages, and leaves out what the driver lacks", () => {
    expect(() =>
      defineBackend({
        name: "Bad Name",
        description: "",
        capabilities: { createOnly: false, compareAndSwap: false, rangeReads: false },
        driver: recording().backend as unknown as BackendDriver,
      }),
    ).toThrow(/name/);
    const { sweep: _s, ...noSweep } = recording().backend as unknown as BackendDriver;
    const backend = defineBackend({
      name: "plain",
      description: "",
      capabilities: { createOnly: false, compareAndSwap: false, rangeReads: false },
      driver: noSweep as BackendDriver,
    });
    expect(backend.sweep).toBeUndefined();
    expect(backend.close).toBeUndefined();
  });
});
