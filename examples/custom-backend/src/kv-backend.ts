import { Readable } from "node:stream";
import { NotFoundError, RemoteError, ValidationError } from "@trainable/core";
import {
  type BackendDriver,
  defineBackend,
  type ObjectInfo,
  PreconditionFailedError,
  type PutOptions,
  type RemoteBackend,
} from "@trainable/storage";
import { type KvStore, KvUnavailableError } from "./kv-store.js";

export const KV_BACKEND_NAME = "kv";

export interface KvBackendOptions {
  /** The key-value store holding the objects. */
  kv: KvStore;
  /** The largest object stored (a `KvStore` holds values whole, so a put buffers its body). Default 64 MiB. */
  maxObjectBytes?: number;
}

const MIB = 1024 * 1024;

/** Reads a put's body into one buffer, refusing it past `limit` bytes. */
async function readBody(
  body: Readable | Uint8Array,
  options: PutOptions,
  limit: number,
): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.byteLength > limit) throw tooLarge(limit);
    options.onProgress?.(body.byteLength);
    return body;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += bytes.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(bytes);
    options.onProgress?.(size);
  }
  return Buffer.concat(chunks, size);
}

/** A `ValidationError` whose message starts with `[storage] [kv]`, as every message of a backend does. */
function invalid(field: string, problem: string): ValidationError {
  return new ValidationError(`[storage] [${KV_BACKEND_NAME}] Invalid ${field}: ${problem}`, {
    issues: [{ path: field, message: problem }],
  });
}

function tooLarge(limit: number): ValidationError {
  return invalid("body", `is larger than maxObjectBytes (${limit})`);
}

/**
 * A `RemoteBackend` over a `KvStore`. `defineBackend` does the contract's common work (keys,
 * options and ranges validated, aborts, `list` limits, error messages); this driver only
 * translates each operation into the store's API.
 */
export function createKvBackend(options: KvBackendOptions): RemoteBackend {
  // Options are checked when the backend is made, not on first use.
  if (options == null || typeof options.kv?.setIf !== "function") {
    throw invalid("kv", "must be a KvStore");
  }
  const limit = options.maxObjectBytes ?? 64 * MIB;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw invalid("maxObjectBytes", "must be an integer >= 1");
  }
  const { kv } = options;
  const info = (key: string, entry: { value: Uint8Array; version: string; modifiedAt: Date }) =>
    ({
      key,
      size: entry.value.byteLength,
      etag: entry.version,
      lastModified: entry.modifiedAt,
    }) satisfies ObjectInfo;

  const driver: BackendDriver = {
    async put(key, body, putOptions) {
      const value = await readBody(body, putOptions, limit);
      if (putOptions.contentLength !== undefined && putOptions.contentLength !== value.byteLength) {
        throw invalid("contentLength", "does not match the body");
      }
      putOptions.signal?.throwIfAborted();
      let version: string | undefined;
      if (putOptions.ifNoneMatch === "*") version = await kv.setIf(key, value, null);
      else if (putOptions.ifMatch !== undefined) {
        version = await kv.setIf(key, value, putOptions.ifMatch.replace(/^"|"$/g, ""));
      } else version = await kv.set(key, value);
      if (version === undefined) throw new PreconditionFailedError(key);
      return { key, size: value.byteLength, etag: version, lastModified: new Date() };
    },

    async get(key, { range }) {
      const entry = await kv.get(key);
      if (!entry) throw new NotFoundError(`[storage] [${KV_BACKEND_NAME}] No object at "${key}"`);
      let bytes = entry.value;
      if (range) {
        if (range.start >= bytes.byteLength) {
          throw invalid("range.start", "is past the end of the object");
        }
        bytes = bytes.subarray(range.start, range.end === undefined ? undefined : range.end + 1);
      }
      return { body: Readable.from([Buffer.from(bytes)]), info: info(key, entry) };
    },

    async head(key) {
      const entry = await kv.get(key);
      return entry ? info(key, entry) : undefined;
    },

    async *list(prefix) {
      // The contract wants lexicographic order; a KV store's key order is its own.
      for (const key of (await kv.keys(prefix)).sort()) {
        const entry = await kv.get(key);
        if (entry) yield info(key, entry);
      }
    },

    async delete(key) {
      await kv.delete(key);
    },
  };

  return defineBackend({
    name: KV_BACKEND_NAME,
    description: "kv://example",
    // Declared from what the store guarantees: setIf is atomic, so both conditional writes are.
    capabilities: { createOnly: true, compareAndSwap: true, rangeReads: true },
    // Only the store's own errors need mapping: validation, aborts and TrainableErrors are
    // handled by defineBackend.
    mapError(error, { op, key }) {
      if (error instanceof KvUnavailableError) {
        return new RemoteError(
          `[storage] [${KV_BACKEND_NAME}] ${op} "${key}" failed: ${error.message}`,
          {
            cause: error,
            retryable: true,
          },
        );
      }
      return new RemoteError(
        `[storage] [${KV_BACKEND_NAME}] ${op} "${key}" failed: ${String(error)}`,
        {
          cause: error,
          retryable: false,
        },
      );
    },
    driver,
  });
}
