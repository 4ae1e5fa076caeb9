import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, constants } from "node:fs";
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  stat,
  unlink,
} from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import {
  CancelledError,
  IntegrityError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { errno, HOST, isProcessAlive } from "@trainable/internal-node";
import { withFileLock } from "./file-lock.js";
import { normalizeEtag } from "./normalize-etag.js";
import { optionError, requiredOptionError } from "./option-error.js";
import { PreconditionFailedError } from "./precondition-failed-error.js";
import type {
  BackendCapabilities,
  GetOptions,
  ObjectInfo,
  PutOptions,
  RemoteBackend,
} from "./types.js";
import { RESERVED_SEGMENT_PREFIX, validateKey, validatePrefix } from "./validate-key.js";
import { validatePutOptions } from "./validate-put-options.js";
import { rangeNotSatisfiable, validateRange } from "./validate-range.js";

export const FILE_BACKEND_NAME = "file";

export interface FileBackendOptions {
  /** Absolute path of the folder holding the objects (created on the first write). */
  root: string;
  /**
   * `fsync` each written file and its folder before a put resolves (default `true`). Turn off
   * only for throw-away stores: without it a crash can leave a key naming an empty file.
   */
  fsync?: boolean;
  /** A per-key lock older than this is broken as stale (default 60 000 ms). */
  lockStaleMs?: number;
  /** How long a write waits for a key's lock before a retryable `RemoteError` (default 30 000 ms). */
  lockTimeoutMs?: number;
}

const COMPONENT = "file";
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);
const TEMP_PREFIX = `${RESERVED_SEGMENT_PREFIX}tmp.`;
const LOCK_PREFIX = `${RESERVED_SEGMENT_PREFIX}lock.`;
const TEMP_NAME = /^\.~tmp\.([A-Za-z0-9-]+)\.(\d+)\.[0-9a-f]+$/;
/** Temp files this process is writing now (all file backends of the process). */
const inFlightTemps = new Set<string>();
/** A temp file whose writer cannot be checked (another host) is left alone this long. */
const FOREIGN_TEMP_MIN_AGE_MS = 60 * 60 * 1000;

/**
 * The ETag of a file: inode, size and modification time (ns). Every write creates a new file
 * (a temp file renamed or linked into place, so a new inode while the old one still exists)
 * whose mtime carries random sub-millisecond jitter.
 */
function etagOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}`;
}

function infoOf(key: string, st: BigIntStats): ObjectInfo {
  return {
    key,
    size: Number(st.size),
    etag: etagOf(st),
    lastModified: new Date(Number(st.mtimeMs)),
  };
}

function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return (error as Error | undefined)?.name === "AbortError" || signal?.aborted === true;
}

const RETRYABLE_CODES = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR", "ETIMEDOUT"]);

/** Maps a filesystem error to the storage error family (already-mapped errors pass through). */
function mapError(error: unknown, op: string, key: string, signal?: AbortSignal): Error {
  if (TrainableError.isInstance(error)) return error;
  if (isAbort(error, signal)) {
    return new CancelledError(`[storage] [${COMPONENT}] ${op} "${key}" cancelled`, {
      cause: error,
    });
  }
  const code = errno(error);
  if (code === "ENAMETOOLONG") {
    return new ValidationError(
      `[storage] [${COMPONENT}] Key "${key}" is too long for this filesystem`,
      {
        cause: error,
        issues: [{ path: "key", message: "is too long for this filesystem" }],
      },
    );
  }
  if (code === "ENOTDIR" || code === "EISDIR" || code === "EEXIST") {
    return new RemoteError(
      `[storage] [${COMPONENT}] ${op} "${key}" failed: a key and a key prefix collide (${code}); on a filesystem "a" and "a/b" cannot both exist`,
      { cause: error, retryable: false },
    );
  }
  const what = code ?? (error as Error | undefined)?.name ?? "unknown error";
  return new RemoteError(`[storage] [${COMPONENT}] ${op} "${key}" failed: ${what}`, {
    cause: error,
    retryable: code !== undefined && RETRYABLE_CODES.has(code),
  });
}

function isReadable(body: unknown): body is Readable {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as Readable).pipe === "function" &&
    Symbol.asyncIterator in body
  );
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A filesystem backend: each key is a file under `root`.
 *
 * - `put` streams into a temp file in the key's folder, fsyncs it, then moves it into place
 *   atomically. Readers see the old object or the new one, never a partial one.
 * - Create-only (`ifNoneMatch: "*"`) uses `link(temp, final)`, which fails with `EEXIST`
 *   atomically across processes: exactly one concurrent creator wins.
 * - Compare-and-swap (`ifMatch`), plain overwrites and deletes hold a per-key lock file
 *   (`O_EXCL`, stale when its holder's pid is gone or it is older than `lockStaleMs`) around a
 *   `stat` + `rename`, so they are linearizable across processes on one machine.
 *   Create-only needs no lock: `link` never replaces.
 * - Hard links and `O_EXCL` must work on the filesystem (any local Linux/macOS filesystem).
 */
export function createFileBackend(options: FileBackendOptions): RemoteBackend {
  if (options == null || typeof options !== "object") throw requiredOptionError(COMPONENT, "root");
  if (options.root === undefined || options.root === "") {
    throw requiredOptionError(COMPONENT, "root");
  }
  if (typeof options.root !== "string" || !isAbsolute(options.root)) {
    throw optionError(COMPONENT, "root", "must be an absolute path");
  }
  for (const field of ["lockStaleMs", "lockTimeoutMs"] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw optionError(COMPONENT, field, "must be a positive number of milliseconds");
    }
  }
  const root = resolve(options.root);
  const doFsync = options.fsync ?? true;
  const lockOptions = { staleMs: options.lockStaleMs, timeoutMs: options.lockTimeoutMs };
  const capabilities: BackendCapabilities = {
    createOnly: true,
    compareAndSwap: true,
    rangeReads: true,
  };

  const pathOf = (key: string) => join(root, ...key.split("/"));
  const lockPathOf = (file: string) => {
    const base = file.slice(dirname(file).length + 1);
    const name =
      Buffer.byteLength(base) > 200 ? `#${createHash("sha256").update(base).digest("hex")}` : base;
    return join(dirname(file), `${LOCK_PREFIX}${name}`);
  };

  async function statFile(file: string): Promise<BigIntStats | undefined> {
    try {
      const st = await stat(file, { bigint: true });
      return st.isFile() ? st : undefined;
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return undefined;
      throw error;
    }
  }

  /** Writes `body` to a new temp file in `dir`; returns its path and final stats. */
  async function writeTemp(
    dir: string,
    body: Readable | Uint8Array,
    options: PutOptions,
  ): Promise<{ temp: string; st: BigIntStats }> {
    let handle: FileHandle | undefined;
    let temp = "";
    for (let attempt = 0; handle === undefined; attempt++) {
      await mkdir(dir, { recursive: true });
      temp = join(dir, `${TEMP_PREFIX}${HOST}.${process.pid}.${randomBytes(8).toString("hex")}`);
      // Claimed before the file exists: a sweep in this process never sees it unclaimed.
      inFlightTemps.add(temp);
      try {
        handle = await open(temp, "wx", 0o644);
      } catch (error) {
        inFlightTemps.delete(temp);
        // A concurrent delete may remove the (empty) folder between mkdir and open: retry.
        if (errno(error) !== "ENOENT" || attempt >= 5) throw error;
      }
    }
    try {
      let written = 0;
      if (body instanceof Uint8Array) {
        CancelledError.throwIfAborted(options.signal, `[storage] [${COMPONENT}] put`);
        await handle.writeFile(body);
        written = body.byteLength;
        options.onProgress?.(written);
      } else {
        const file = handle;
        await pipeline(
          body,
          async (source: AsyncIterable<Buffer | string>) => {
            for await (const chunk of source) {
              const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
              for (let offset = 0; offset < bytes.byteLength; ) {
                offset += (await file.write(bytes, offset)).bytesWritten;
              }
              written += bytes.byteLength;
              options.onProgress?.(written);
            }
          },
          { signal: options.signal },
        );
      }
      if (options.contentLength !== undefined && options.contentLength !== written) {
        throw new ValidationError(
          `[storage] [${COMPONENT}] Body has ${written} bytes but contentLength said ${options.contentLength}`,
          { issues: [{ path: "contentLength", message: "does not match the body" }] },
        );
      }
      // The ETag is inode-size-mtime. An inode freed by a replace can be reused by a later
      // write of the same size within the same clock tick; random sub-millisecond jitter in
      // the mtime makes such a repeated ETag (an ABA for compare-and-swap) vanishingly unlikely.
      // The time comes from the filesystem (its own clock, the one every reader of the store
      // sees), not from this host's clock, which may be off.
      const mtime = ((await handle.stat()).mtimeMs + Math.random()) / 1000;
      await handle.utimes(mtime, mtime);
      if (doFsync) await handle.sync();
      const st = await handle.stat({ bigint: true });
      return { temp, st };
    } catch (error) {
      await handle.close().catch(() => {});
      handle = undefined;
      await unlink(temp).catch(() => {});
      inFlightTemps.delete(temp);
      throw error;
    } finally {
      await handle?.close();
    }
  }

  async function removeEmptyParents(file: string): Promise<void> {
    for (let dir = dirname(file); dir.length > root.length && dir.startsWith(root); ) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  async function* walk(
    dirKey: string,
    namePrefix: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ObjectInfo> {
    CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] list`);
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dirKey === "" ? root : pathOf(dirKey.slice(0, -1)), {
        withFileTypes: true,
      });
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return;
      throw error;
    }
    // Sorting folders as "name/" yields keys in global lexicographic order ("a-b" < "a/c").
    const sorted = entries
      .filter((e) => !e.name.startsWith(RESERVED_SEGMENT_PREFIX) && e.name.startsWith(namePrefix))
      .filter((e) => e.isFile() || e.isDirectory())
      .map((e) => ({ entry: e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { entry } of sorted) {
      const key = `${dirKey}${entry.name}`;
      if (entry.isDirectory()) {
        yield* walk(`${key}/`, "", signal);
      } else {
        const st = await statFile(pathOf(key));
        if (st) yield infoOf(key, st);
      }
    }
  }

  return {
    name: FILE_BACKEND_NAME,
    capabilities,
    description: pathToFileURL(root).href,

    async put(key, body, putOptions: PutOptions = {}) {
      const { signal } = putOptions;
      try {
        validateKey(COMPONENT, key);
        validatePutOptions(COMPONENT, body, putOptions);
        CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] put "${key}"`);
        const file = pathOf(key);
        // Cheap early refusal; the `link` below is what makes create-only atomic.
        if (putOptions.ifNoneMatch === "*" && (await statFile(file))) {
          throw new PreconditionFailedError(key);
        }
        const { temp, st } = await writeTemp(dirname(file), body, putOptions);
        try {
          if (putOptions.ifNoneMatch === "*") {
            try {
              await link(temp, file);
            } catch (error) {
              if (errno(error) === "EEXIST") throw new PreconditionFailedError(key);
              throw error;
            }
            await unlink(temp);
          } else {
            await withFileLock(
              lockPathOf(file),
              async () => {
                if (putOptions.ifMatch !== undefined) {
                  const current = await statFile(file);
                  if (
                    current === undefined ||
                    etagOf(current) !== normalizeEtag(putOptions.ifMatch)
                  ) {
                    throw new PreconditionFailedError(key);
                  }
                }
                await rename(temp, file);
              },
              { ...lockOptions, component: COMPONENT, what: `"${key}"`, signal },
            );
          }
        } catch (error) {
          await unlink(temp).catch(() => {});
          throw error;
        } finally {
          inFlightTemps.delete(temp);
        }
        if (doFsync) await fsyncDir(dirname(file));
        return infoOf(key, st);
      } catch (error) {
        if (!(body instanceof Uint8Array) && isReadable(body) && !body.destroyed) body.destroy();
        throw mapError(error, "put", key, signal);
      }
    },

    async get(key, getOptions: GetOptions = {}) {
      const { signal, range } = getOptions;
      let handle: FileHandle | undefined;
      try {
        validateKey(COMPONENT, key);
        validateRange(COMPONENT, range);
        CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] get "${key}"`);
        try {
          // O_NONBLOCK: opening a FIFO planted at a key must not wait for a writer forever;
          // O_NOFOLLOW: a symlink is not an object. Both are refused right after, by fstat.
          handle = await open(pathOf(key), READ_FLAGS);
        } catch (error) {
          const code = errno(error);
          if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
            throw new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`, {
              cause: error,
            });
          }
          if (code === "ELOOP") {
            throw new IntegrityError(
              `[storage] [${COMPONENT}] "${key}" is a symbolic link, not an object: refusing it`,
              { cause: error },
            );
          }
          throw error;
        }
        const st = await handle.stat({ bigint: true });
        if (st.isDirectory()) {
          throw new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`);
        }
        if (!st.isFile()) {
          throw new IntegrityError(
            `[storage] [${COMPONENT}] "${key}" is not a regular file (a FIFO, socket or device planted in the store?): refusing it`,
          );
        }
        const info = infoOf(key, st);
        let start = 0;
        let end = info.size - 1;
        if (range) {
          if (range.start >= info.size)
            throw rangeNotSatisfiable(COMPONENT, key, range.start, info.size);
          start = range.start;
          end = Math.min(range.end ?? end, end);
        }
        // An empty file: a stream with start 0 / end -1 is not allowed, so read nothing explicitly.
        // 1 MiB reads: the default 64 KiB makes 16 times more reads, writes and hash calls
        // downstream for the same bytes.
        const body =
          info.size === 0
            ? handle.createReadStream({ start: 0, end: Number.POSITIVE_INFINITY })
            : handle.createReadStream({ start, end, highWaterMark: 1024 * 1024 });
        handle = undefined; // the stream owns it now (autoClose)
        if (signal) addAbortSignal(signal, body);
        return { body, info };
      } catch (error) {
        await handle?.close().catch(() => {});
        throw mapError(error, "get", key, signal);
      }
    },

    async head(key, headOptions = {}) {
      try {
        validateKey(COMPONENT, key);
        CancelledError.throwIfAborted(headOptions.signal, `[storage] [${COMPONENT}] head "${key}"`);
        const st = await statFile(pathOf(key));
        return st ? infoOf(key, st) : undefined;
      } catch (error) {
        throw mapError(error, "head", key, headOptions.signal);
      }
    },

    async *list(prefix, listOptions = {}) {
      try {
        validatePrefix(COMPONENT, prefix);
        const cut = prefix.lastIndexOf("/") + 1;
        let left = listOptions.limit ?? Number.POSITIVE_INFINITY;
        if (left <= 0) return;
        for await (const info of walk(
          prefix.slice(0, cut),
          prefix.slice(cut),
          listOptions.signal,
        )) {
          yield info;
          if (--left <= 0) return;
        }
      } catch (error) {
        throw mapError(error, "list", prefix, listOptions.signal);
      }
    },

    async sweep(prefix, sweepOptions = {}) {
      const { signal } = sweepOptions;
      try {
        validatePrefix(COMPONENT, prefix);
        if (prefix !== "" && !prefix.endsWith("/")) {
          throw new ValidationError(
            `[storage] [${COMPONENT}] sweep needs a folder prefix ending in "/", got ${JSON.stringify(prefix)}`,
            { issues: [{ path: "prefix", message: 'must end with "/"' }] },
          );
        }
        const minAge = Math.max(sweepOptions.olderThanMs ?? 0, FOREIGN_TEMP_MIN_AGE_MS);
        let removed = 0;
        let bytes = 0;
        const visit = async (dir: string): Promise<void> => {
          CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] sweep`);
          let entries: import("node:fs").Dirent[];
          try {
            entries = await readdir(dir, { withFileTypes: true });
          } catch (error) {
            if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return;
            throw error;
          }
          for (const entry of entries) {
            const path = join(dir, entry.name);
            if (entry.isDirectory()) {
              if (!entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) await visit(path);
              continue;
            }
            if (!entry.isFile() || !entry.name.startsWith(TEMP_PREFIX)) continue;
            const owner = TEMP_NAME.exec(entry.name);
            let stale: boolean;
            let size = 0;
            try {
              const st = await stat(path);
              size = st.size;
              if (owner && owner[1] === HOST) {
                // A writer on this machine: stale exactly when its process is gone.
                const pid = Number(owner[2]);
                // This process's own: stale unless a write of ours holds it (a process that
                // had our pid before, in a restarted container, left it).
                stale = pid === process.pid ? !inFlightTemps.has(path) : !isProcessAlive(pid);
              } else {
                stale = Date.now() - st.mtimeMs > minAge;
              }
            } catch (error) {
              if (errno(error) === "ENOENT") continue;
              throw error;
            }
            if (!stale) continue;
            try {
              await unlink(path);
              removed++;
              bytes += size;
            } catch (error) {
              if (errno(error) !== "ENOENT") throw error;
            }
          }
        };
        await visit(prefix === "" ? root : pathOf(prefix.slice(0, -1)));
        return { removed, bytes };
      } catch (error) {
        throw mapError(error, "sweep", prefix, signal);
      }
    },

    async delete(key, deleteOptions = {}) {
      const { signal } = deleteOptions;
      try {
        validateKey(COMPONENT, key);
        CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] delete "${key}"`);
        const file = pathOf(key);
        if ((await statFile(file)) === undefined) return;
        try {
          await withFileLock(
            lockPathOf(file),
            async () => {
              await unlink(file).catch((error) => {
                if (errno(error) !== "ENOENT") throw error;
              });
            },
            { ...lockOptions, component: COMPONENT, what: `"${key}"`, signal },
          );
        } catch (error) {
          // The folder vanished (a concurrent delete emptied it): the key is gone too.
          if (errno(error) !== "ENOENT") throw error;
        }
        await removeEmptyParents(file);
      } catch (error) {
        throw mapError(error, "delete", key, signal);
      }
    },
  };
}
