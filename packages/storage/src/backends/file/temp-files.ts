import { randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { type FileHandle, mkdir, open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errno, HOST, isProcessAlive, readDirIfExists } from "@trainable/internal-node";
import type { PutOptions } from "../types.js";
import { RESERVED_SEGMENT_PREFIX } from "../validate-key.js";
import { checkWrittenLength } from "../validate-put-options.js";
import { FILE_BACKEND_NAME } from "./file-context.js";

const TEMP_PREFIX = `${RESERVED_SEGMENT_PREFIX}tmp.`;
const TEMP_NAME = /^\.~tmp\.([A-Za-z0-9-]+)\.(\d+)\.[0-9a-f]+$/;
/** Temp files this process is writing now (all file backends of the process). */
const inFlightTemps = new Set<string>();
/** A temp file whose writer cannot be checked (another host) is left alone this long. */
const FOREIGN_TEMP_MIN_AGE_MS = 60 * 60 * 1000;

/** Creates a new temp file (`.~tmp.{host}.{pid}.{random}`) in `dir`, claimed by this process. */
async function createTemp(dir: string): Promise<{ temp: string; handle: FileHandle }> {
  for (let attempt = 0; ; attempt++) {
    await mkdir(dir, { recursive: true });
    const temp = join(
      dir,
      `${TEMP_PREFIX}${HOST}.${process.pid}.${randomBytes(8).toString("hex")}`,
    );
    // Claimed before the file exists: a sweep in this process never sees it unclaimed.
    inFlightTemps.add(temp);
    try {
      return { temp, handle: await open(temp, "wx", 0o644) };
    } catch (error) {
      inFlightTemps.delete(temp);
      // A concurrent delete may remove the (empty) folder between mkdir and open: retry.
      if (errno(error) !== "ENOENT" || attempt >= 5) throw error;
    }
  }
}

async function writeBody(
  handle: FileHandle,
  body: Readable | Uint8Array,
  options: PutOptions,
): Promise<number> {
  if (body instanceof Uint8Array) {
    options.signal?.throwIfAborted();
    await handle.writeFile(body);
    options.onProgress?.(body.byteLength);
    return body.byteLength;
  }
  let written = 0;
  await pipeline(
    body,
    async (source: AsyncIterable<Buffer | string>) => {
      for await (const chunk of source) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        for (let offset = 0; offset < bytes.byteLength; ) {
          offset += (await handle.write(bytes, offset)).bytesWritten;
        }
        written += bytes.byteLength;
        options.onProgress?.(written);
      }
    },
    { signal: options.signal },
  );
  return written;
}

/**
 * Writes `body` to a new temp file in `dir` and returns its path and final stats; the caller
 * moves it into place and then calls `release`. On failure the temp file is gone.
 */
export async function writeTemp(
  dir: string,
  body: Readable | Uint8Array,
  options: PutOptions & { fsync: boolean },
): Promise<{ temp: string; st: BigIntStats; release: () => void }> {
  const { temp, handle } = await createTemp(dir);
  try {
    const written = await writeBody(handle, body, options);
    checkWrittenLength(FILE_BACKEND_NAME, written, options.contentLength);
    // The ETag is inode-size-mtime. An inode freed by a replace can be reused by a later
    // write of the same size within the same clock tick; random sub-millisecond jitter in
    // the mtime makes such a repeated ETag (an ABA for compare-and-swap) vanishingly unlikely.
    // The time comes from the filesystem (its own clock, the one every reader of the store
    // sees), not from this host's clock, which may be off.
    const mtime = ((await handle.stat()).mtimeMs + Math.random()) / 1000;
    await handle.utimes(mtime, mtime);
    if (options.fsync) await handle.sync();
    const st = await handle.stat({ bigint: true });
    await handle.close();
    return { temp, st, release: () => inFlightTemps.delete(temp) };
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    inFlightTemps.delete(temp);
    throw error;
  }
}

/** Whether the temp file `name` (with stats `st`) was left by a writer that is gone. */
function isAbandoned(path: string, name: string, mtimeMs: number, minAgeMs: number): boolean {
  const owner = TEMP_NAME.exec(name);
  if (owner && owner[1] === HOST) {
    // A writer on this machine: stale exactly when its process is gone.
    const pid = Number(owner[2]);
    // This process's own: stale unless a write of ours holds it (a process that had our pid
    // before, in a restarted container, left it).
    return pid === process.pid ? !inFlightTemps.has(path) : !isProcessAlive(pid);
  }
  return Date.now() - mtimeMs > minAgeMs;
}

/**
 * Removes the temp files under `dir` whose writer is gone: on this machine, a dead pid; from
 * another host, older than `olderThanMs` (at least an hour).
 */
export async function sweepTemps(
  dir: string,
  options: { olderThanMs?: number; signal?: AbortSignal },
): Promise<{ removed: number; bytes: number }> {
  const minAge = Math.max(options.olderThanMs ?? 0, FOREIGN_TEMP_MIN_AGE_MS);
  const totals = { removed: 0, bytes: 0 };
  const visit = async (folder: string): Promise<void> => {
    options.signal?.throwIfAborted();
    for (const entry of await readDirIfExists(folder)) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) await visit(path);
        continue;
      }
      if (!entry.isFile() || !entry.name.startsWith(TEMP_PREFIX)) continue;
      let st: import("node:fs").Stats;
      try {
        st = await stat(path);
      } catch (error) {
        if (errno(error) === "ENOENT") continue;
        throw error;
      }
      if (!isAbandoned(path, entry.name, st.mtimeMs, minAge)) continue;
      try {
        await unlink(path);
        totals.removed++;
        totals.bytes += st.size;
      } catch (error) {
        if (errno(error) !== "ENOENT") throw error;
      }
    }
  };
  await visit(dir);
  return totals;
}
