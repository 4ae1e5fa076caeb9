import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RemoteError, ValidationError } from "@trainable/core";
import { errno } from "@trainable/internal-node";
import { defineBackend, type OperationContext } from "../define-backend.js";
import { optionError, requiredOptionError } from "../option-error.js";
import type { RemoteBackend } from "../types.js";
import { createFileContext, FILE_BACKEND_NAME, infoOf, statFile } from "./file-context.js";
import { getFile, listFiles, listFolders } from "./file-read.js";
import { deleteFile, putFile } from "./file-write.js";
import { sweepTemps } from "./temp-files.js";

export { FILE_BACKEND_NAME } from "./file-context.js";

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

const COMPONENT = FILE_BACKEND_NAME;
const RETRYABLE_CODES = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR", "ETIMEDOUT"]);

/** Maps a filesystem error to the storage error family. */
function mapError(error: unknown, { op, key }: OperationContext): Error {
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

function validateOptions(options: FileBackendOptions): void {
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
  validateOptions(options);
  const ctx = createFileContext({
    root: resolve(options.root),
    fsync: options.fsync ?? true,
    lockStaleMs: options.lockStaleMs,
    lockTimeoutMs: options.lockTimeoutMs,
  });
  return defineBackend({
    name: FILE_BACKEND_NAME,
    capabilities: { createOnly: true, compareAndSwap: true, rangeReads: true },
    description: pathToFileURL(ctx.root).href,
    mapError,
    driver: {
      put: (key, body, putOptions) => putFile(ctx, key, body, putOptions),
      get: (key, getOptions) => getFile(ctx, key, getOptions),
      async head(key) {
        const st = await statFile(ctx.pathOf(key));
        return st ? infoOf(key, st) : undefined;
      },
      list: (prefix) => listFiles(ctx, prefix),
      listPrefixes: (prefix) => listFolders(ctx, prefix),
      delete: (key, deleteOptions) => deleteFile(ctx, key, deleteOptions),
      sweep: (prefix, sweepOptions) =>
        sweepTemps(prefix === "" ? ctx.root : ctx.pathOf(prefix.slice(0, -1)), sweepOptions),
    },
  });
}
