import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { IntegrityError, NotFoundError } from "@trainable/core";
import { errno, readDirIfExists } from "@trainable/internal-node";
import type { GetOptions, ObjectInfo } from "../types.js";
import { RESERVED_SEGMENT_PREFIX } from "../validate-key.js";
import { rangeNotSatisfiable } from "../validate-range.js";
import { FILE_BACKEND_NAME, type FileContext, infoOf, statFile } from "./file-context.js";

const COMPONENT = FILE_BACKEND_NAME;
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

function notFound(key: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`, { cause });
}

/** Opens a key's file for reading: never a FIFO, a link or a device. */
async function openObject(ctx: FileContext, key: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted at a key must not wait for a writer forever;
    // O_NOFOLLOW: a symlink is not an object. Both are refused right after, by fstat.
    handle = await open(ctx.pathOf(key), READ_FLAGS);
  } catch (error) {
    const code = errno(error);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") throw notFound(key, error);
    if (code === "ELOOP") {
      throw new IntegrityError(
        `[storage] [${COMPONENT}] "${key}" is a symbolic link, not an object: refusing it`,
        { cause: error },
      );
    }
    throw error;
  }
  return handle;
}

/** Streams a key's file (1 MiB reads), or the asked range of it. */
export async function getFile(
  ctx: FileContext,
  key: string,
  { range }: GetOptions,
): Promise<{ body: Readable; info: ObjectInfo }> {
  let handle: FileHandle | undefined = await openObject(ctx, key);
  try {
    const st = await handle.stat({ bigint: true });
    if (st.isDirectory()) throw notFound(key);
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
    return { body, info };
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** A folder's entries that may hold objects (no reserved names), in the order their keys list. */
async function objectEntries(ctx: FileContext, dirKey: string, namePrefix: string) {
  const entries = await readDirIfExists(dirKey === "" ? ctx.root : ctx.pathOf(dirKey.slice(0, -1)));
  // Sorting folders as "name/" yields keys in global lexicographic order ("a-b" < "a/c").
  return entries
    .filter((e) => !e.name.startsWith(RESERVED_SEGMENT_PREFIX) && e.name.startsWith(namePrefix))
    .filter((e) => e.isFile() || e.isDirectory())
    .map((e) => ({ entry: e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
    .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
}

/** Every key under `dirKey` (a folder key ending in "/", or "") whose name starts with `namePrefix`, in order. */
async function* walk(
  ctx: FileContext,
  dirKey: string,
  namePrefix: string,
): AsyncGenerator<ObjectInfo> {
  for (const { entry } of await objectEntries(ctx, dirKey, namePrefix)) {
    const key = `${dirKey}${entry.name}`;
    if (entry.isDirectory()) {
      yield* walk(ctx, `${key}/`, "");
    } else {
      const st = await statFile(ctx.pathOf(key));
      if (st) yield infoOf(key, st);
    }
  }
}

/** Lists the keys under `prefix` by walking its folder. */
export function listFiles(ctx: FileContext, prefix: string): AsyncGenerator<ObjectInfo> {
  const cut = prefix.lastIndexOf("/") + 1;
  return walk(ctx, prefix.slice(0, cut), prefix.slice(cut));
}

/**
 * The folders directly under `prefix` (`""` or ending in "/"): one `readdir`, then each
 * subfolder is listed only until its first key, so a folder holding nothing but leftovers (a
 * killed write's temp file, a folder a crash left empty) is not one.
 */
export async function* listFolders(ctx: FileContext, prefix: string): AsyncGenerator<string> {
  for (const { entry } of await objectEntries(ctx, prefix, "")) {
    if (!entry.isDirectory()) continue;
    const keys = walk(ctx, `${prefix}${entry.name}/`, "");
    const first = await keys.next();
    await keys.return(undefined);
    if (!first.done) yield entry.name;
  }
}
