import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errno } from "@trainable/internal-node";
import type { ObjectInfo } from "../types.js";
import { RESERVED_SEGMENT_PREFIX } from "../validate-key.js";

export const FILE_BACKEND_NAME = "file";
const LOCK_PREFIX = `${RESERVED_SEGMENT_PREFIX}lock.`;

/** What the parts of the file driver share. */
export interface FileContext {
  /** Absolute, resolved. */
  readonly root: string;
  readonly fsync: boolean;
  readonly lockOptions: { staleMs?: number; timeoutMs?: number };
  /** The file of a key. */
  pathOf(key: string): string;
  /** The lock file guarding `file` (long names hashed). */
  lockPathOf(file: string): string;
}

export function createFileContext(options: {
  root: string;
  fsync: boolean;
  lockStaleMs?: number;
  lockTimeoutMs?: number;
}): FileContext {
  const { root } = options;
  return {
    root,
    fsync: options.fsync,
    lockOptions: { staleMs: options.lockStaleMs, timeoutMs: options.lockTimeoutMs },
    pathOf: (key) => join(root, ...key.split("/")),
    lockPathOf(file) {
      const base = file.slice(dirname(file).length + 1);
      const name =
        Buffer.byteLength(base) > 200
          ? `#${createHash("sha256").update(base).digest("hex")}`
          : base;
      return join(dirname(file), `${LOCK_PREFIX}${name}`);
    },
  };
}

/**
 * The ETag of a file: inode, size and modification time (ns). Every write creates a new file
 * (a temp file renamed or linked into place, so a new inode while the old one still exists)
 * whose mtime carries random sub-millisecond jitter.
 */
export function etagOf(st: BigIntStats): string {
  return `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}`;
}

export function infoOf(key: string, st: BigIntStats): ObjectInfo {
  return {
    key,
    size: Number(st.size),
    etag: etagOf(st),
    lastModified: new Date(Number(st.mtimeMs)),
  };
}

/** The stats of a regular file at `file`, or `undefined` when there is none. */
export async function statFile(file: string): Promise<BigIntStats | undefined> {
  try {
    const st = await stat(file, { bigint: true });
    return st.isFile() ? st : undefined;
  } catch (error) {
    if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return undefined;
    throw error;
  }
}
