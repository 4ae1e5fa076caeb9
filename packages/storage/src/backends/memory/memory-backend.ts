import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { NotFoundError } from "@trainable/core";
import { defineBackend } from "../define-backend.js";
import { normalizeEtag } from "../normalize-etag.js";
import { optionError } from "../option-error.js";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import type { ObjectInfo, PutOptions, RemoteBackend } from "../types.js";
import { checkWrittenLength } from "../validate-put-options.js";
import { rangeNotSatisfiable } from "../validate-range.js";

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

const COMPONENT = MEMORY_BACKEND_NAME;

function infoOf(key: string, entry: Entry): ObjectInfo {
  return { key, size: entry.data.byteLength, etag: entry.etag, lastModified: entry.lastModified };
}

async function readBody(body: Readable | Uint8Array, options: PutOptions): Promise<Buffer> {
  if (body instanceof Uint8Array) {
    options.onProgress?.(body.byteLength);
    return Buffer.from(body);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await pipeline(
    body,
    async (source: AsyncIterable<Buffer | string>) => {
      for await (const chunk of source) {
        const bytes = Buffer.from(chunk);
        chunks.push(bytes);
        size += bytes.byteLength;
        options.onProgress?.(size);
      }
    },
    { signal: options.signal },
  );
  return Buffer.concat(chunks, size);
}

/**
 * An in-process backend keeping every object in a `Map`, for tests. It buffers whole bodies
 * (unlike the others) and supports create-only and compare-and-swap: a write's check and
 * update happen in one synchronous step, so they are atomic within the process.
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): RemoteBackend {
  if (options.name !== undefined && typeof options.name !== "string") {
    throw optionError(COMPONENT, "name", "must be a string");
  }
  const objects = new Map<string, Entry>();
  let counter = 0;
  const session = randomBytes(4).toString("hex");

  return defineBackend({
    name: MEMORY_BACKEND_NAME,
    capabilities: { createOnly: true, compareAndSwap: true, rangeReads: true },
    description: `memory://${options.name ?? ""}`,
    driver: {
      async put(key, body, putOptions) {
        const data = await readBody(body, putOptions);
        putOptions.signal?.throwIfAborted();
        checkWrittenLength(COMPONENT, data.byteLength, putOptions.contentLength);
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
      },

      async get(key, { range }) {
        const entry = objects.get(key);
        if (!entry) throw new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`);
        let data = entry.data;
        if (range) {
          if (range.start >= data.byteLength) {
            throw rangeNotSatisfiable(COMPONENT, key, range.start, data.byteLength);
          }
          data = data.subarray(range.start, range.end === undefined ? undefined : range.end + 1);
        }
        const body = Readable.from([Buffer.from(data)], { objectMode: false });
        return { body, info: infoOf(key, entry) };
      },

      async head(key) {
        const entry = objects.get(key);
        return entry ? infoOf(key, entry) : undefined;
      },

      async *list(prefix) {
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
        for (const key of keys) {
          const entry = objects.get(key);
          if (entry) yield infoOf(key, entry);
        }
      },

      async *listPrefixes(prefix) {
        const names = new Set<string>();
        for (const key of objects.keys()) {
          const end = key.startsWith(prefix) ? key.indexOf("/", prefix.length) : -1;
          if (end >= 0) names.add(key.slice(prefix.length, end));
        }
        // In the order their keys list: that of `name/` (`a-b/…` before `a/…`).
        yield* [...names].sort((a, b) => (`${a}/` < `${b}/` ? -1 : 1));
      },

      async delete(key) {
        objects.delete(key);
      },
    },
  });
}
