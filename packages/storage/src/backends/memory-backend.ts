import { randomBytes } from "node:crypto";
import { addAbortSignal, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CancelledError, NotFoundError, ValidationError } from "@trainable/core";
import { normalizeEtag } from "./normalize-etag.js";
import { PreconditionFailedError } from "./precondition-failed-error.js";
import type { GetOptions, ObjectInfo, PutOptions, RemoteBackend } from "./types.js";
import { validateKey, validatePrefix } from "./validate-key.js";
import { validatePutOptions } from "./validate-put-options.js";
import { rangeNotSatisfiable, validateRange } from "./validate-range.js";

export const MEMORY_BACKEND_NAME = "memory";

export interface MemoryBackendOptions {
  /** A label for `description` (`memory://<name>`); purely informational. */
  name?: string;
}

interface Entry {
  data: Buffer;
  etag: string;
  lastModified: Date;
}

const COMPONENT = "memory";

function infoOf(key: string, entry: Entry): ObjectInfo {
  return { key, size: entry.data.byteLength, etag: entry.etag, lastModified: entry.lastModified };
}

function cancelled(op: string, key: string, cause?: unknown): CancelledError {
  return new CancelledError(`[storage] [${COMPONENT}] ${op} "${key}" cancelled`, { cause });
}

/**
 * An in-process backend keeping every object in a `Map`, for tests. It buffers whole bodies
 * (unlike the others) and supports create-only and compare-and-swap: a write's check and
 * update happen in one synchronous step, so they are atomic within the process.
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): RemoteBackend {
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new ValidationError(`[storage] [${COMPONENT}] Invalid option "name": must be a string`, {
      issues: [{ path: "name", message: "must be a string" }],
    });
  }
  const objects = new Map<string, Entry>();
  let counter = 0;
  const session = randomBytes(4).toString("hex");

  async function readBody(key: string, body: Readable | Uint8Array, options: PutOptions) {
    if (body instanceof Uint8Array) {
      options.onProgress?.(body.byteLength);
      return Buffer.from(body);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      await pipeline(
        body,
        async (source: AsyncIterable<Buffer | string>) => {
          for await (const chunk of source) {
            const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
            chunks.push(bytes);
            size += bytes.byteLength;
            options.onProgress?.(size);
          }
        },
        { signal: options.signal },
      );
    } catch (error) {
      if (options.signal?.aborted || (error as Error).name === "AbortError") {
        throw cancelled("put", key, error);
      }
      throw error;
    }
    return Buffer.concat(chunks, size);
  }

  return {
    name: MEMORY_BACKEND_NAME,
    capabilities: { createOnly: true, compareAndSwap: true, rangeReads: true },
    description: `memory://${options.name ?? ""}`,

    async put(key, body, putOptions: PutOptions = {}) {
      try {
        validateKey(COMPONENT, key);
        validatePutOptions(COMPONENT, body, putOptions);
        if (putOptions.signal?.aborted) throw cancelled("put", key, putOptions.signal.reason);
        const data = await readBody(key, body, putOptions);
        if (putOptions.signal?.aborted) throw cancelled("put", key, putOptions.signal.reason);
        if (
          putOptions.contentLength !== undefined &&
          putOptions.contentLength !== data.byteLength
        ) {
          throw new ValidationError(
            `[storage] [${COMPONENT}] Body has ${data.byteLength} bytes but contentLength said ${putOptions.contentLength}`,
            { issues: [{ path: "contentLength", message: "does not match the body" }] },
          );
        }
        // From here to the `set`, nothing awaits: check-and-write is atomic.
        const current = objects.get(key);
        if (putOptions.ifNoneMatch === "*" && current) throw new PreconditionFailedError(key);
        if (
          putOptions.ifMatch !== undefined &&
          current?.etag !== normalizeEtag(putOptions.ifMatch)
        ) {
          throw new PreconditionFailedError(key);
        }
        const entry: Entry = { data, etag: `${session}-${++counter}`, lastModified: new Date() };
        objects.set(key, entry);
        return infoOf(key, entry);
      } catch (error) {
        if (!(body instanceof Uint8Array) && !body.destroyed) body.destroy();
        throw error;
      }
    },

    async get(key, getOptions: GetOptions = {}) {
      validateKey(COMPONENT, key);
      validateRange(COMPONENT, getOptions.range);
      if (getOptions.signal?.aborted) throw cancelled("get", key, getOptions.signal.reason);
      const entry = objects.get(key);
      if (!entry) throw new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`);
      let data = entry.data;
      const { range } = getOptions;
      if (range) {
        if (range.start >= data.byteLength) {
          throw rangeNotSatisfiable(COMPONENT, key, range.start, data.byteLength);
        }
        data = data.subarray(range.start, range.end === undefined ? undefined : range.end + 1);
      }
      const body = Readable.from([Buffer.from(data)], { objectMode: false });
      if (getOptions.signal) addAbortSignal(getOptions.signal, body);
      return { body, info: infoOf(key, entry) };
    },

    async head(key, headOptions = {}) {
      validateKey(COMPONENT, key);
      if (headOptions.signal?.aborted) throw cancelled("head", key, headOptions.signal.reason);
      const entry = objects.get(key);
      return entry ? infoOf(key, entry) : undefined;
    },

    async *list(prefix, listOptions = {}) {
      validatePrefix(COMPONENT, prefix);
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
      if (listOptions.limit !== undefined) keys.length = Math.min(keys.length, listOptions.limit);
      for (const key of keys) {
        if (listOptions.signal?.aborted) throw cancelled("list", prefix, listOptions.signal.reason);
        const entry = objects.get(key);
        if (entry) yield infoOf(key, entry);
      }
    },

    async delete(key, deleteOptions = {}) {
      validateKey(COMPONENT, key);
      if (deleteOptions.signal?.aborted)
        throw cancelled("delete", key, deleteOptions.signal.reason);
      objects.delete(key);
    },
  };
}
