import { createHash } from "node:crypto";
import { type BigIntStats, constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import path from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { CancelledError, IntegrityError, ValidationError } from "@trainable/core";
import { checkpointFileProblem } from "./checkpoint-file-problem.js";
import { CHUNK_SIZE } from "./chunk-size.js";
import { comparePaths } from "./compare-paths.js";
import { type ArchiveCompression, DEFAULT_GZIP_LEVEL } from "./default-compression.js";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { entryPathProblem } from "./entry-path-problem.js";
import type { FileFingerprint, FolderScan } from "./scan-folder.js";

export interface PackFolderOptions {
  /** The folder that was scanned. */
  folder: string;
  /** What `scanFolder` returned for it: exactly these entries are archived, in sorted order. */
  scan: Pick<FolderScan, "files" | "directories" | "fingerprints">;
  compression: ArchiveCompression;
  /** 0–9, only with gzip; default 1 (fastest). */
  gzipLevel?: number;
  /**
   * Re-hash every file while packing and fail when it no longer matches the scan (default
   * true). Costs one sha256 pass (~1.4 s/GiB); a size change is always detected. `"auto"`
   * re-hashes only files whose scan fingerprint is not settled (changed in the last clock
   * tick before the scan ended) and checks the others' inode, mtime and ctime instead, which
   * any write after the scan changes.
   */
  verifyContent?: boolean | "auto";
  signal?: AbortSignal;
}

type PackEntry =
  | { type: "directory"; path: string }
  | { type: "file"; path: string; size: number; sha256: string };

const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Streams a deterministic tar of `folder`: the directories and files of `scan` in UTF-8 byte
 * order of their paths, every header field fixed (see `encodeTarHeader`), file data read in
 * 1 MiB chunks as the consumer pulls (bounded memory), then two zero blocks. The same content
 * always gives the same bytes (with gzip: for the same level and zlib).
 *
 * The stream fails with an `IntegrityError` when a file is missing, is no longer a regular file,
 * or changed size (or, with `verifyContent`, content) since the scan; with a `CancelledError`
 * when `signal` aborts. Invalid options throw a `ValidationError` right away.
 */
export function packFolder(options: PackFolderOptions): Readable {
  const { folder, scan, compression, signal } = options;
  if (typeof folder !== "string" || folder === "") {
    throw invalidOption("folder", "must be a non-empty string");
  }
  if (compression !== "none" && compression !== "gzip") {
    throw invalidOption(
      "compression",
      `must be "none" or "gzip", got ${JSON.stringify(compression)}`,
    );
  }
  const gzipLevel = options.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(gzipLevel) || gzipLevel < 0 || gzipLevel > 9) {
    throw invalidOption("gzipLevel", `must be an integer from 0 to 9, got ${gzipLevel}`);
  }
  const entries = sortedEntries(scan);
  CancelledError.throwIfAborted(signal, "[storage] [archive] Packing");

  const tar = Readable.from(
    generateTar({
      root: path.resolve(folder),
      entries,
      verifyContent: options.verifyContent ?? true,
      fingerprints: scan.fingerprints,
      signal,
    }),
    { objectMode: false, highWaterMark: CHUNK_SIZE },
  );
  const output =
    compression === "gzip"
      ? pipeline(tar, createGzip({ level: gzipLevel, chunkSize: 64 * 1024 }), () => {})
      : tar;
  if (signal !== undefined) {
    const onAbort = (): void => {
      output.destroy(
        new CancelledError("[storage] [archive] Packing cancelled", { cause: signal.reason }),
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
    output.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  return output;
}

function sortedEntries(scan: PackFolderOptions["scan"]): PackEntry[] {
  if (scan === null || typeof scan !== "object" || !Array.isArray(scan.files)) {
    throw invalidOption("scan.files", "must be an array");
  }
  const directories = scan.directories ?? [];
  if (!Array.isArray(directories)) throw invalidOption("scan.directories", "must be an array");
  const entries: PackEntry[] = [];
  for (const file of scan.files) {
    const problem = checkpointFileProblem(file);
    if (problem !== undefined) {
      throw invalidOption("scan.files", `${JSON.stringify(file?.path)}: ${problem}`);
    }
    entries.push({ type: "file", path: file.path, size: file.size, sha256: file.sha256 });
  }
  for (const directory of directories) {
    const problem =
      typeof directory === "string" ? entryPathProblem(directory) : "must be a string";
    if (problem !== undefined) {
      throw invalidOption("scan.directories", `${JSON.stringify(directory)}: ${problem}`);
    }
    entries.push({ type: "directory", path: directory });
  }
  entries.sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.path === entries[i - 1]!.path) {
      throw invalidOption("scan", `path ${JSON.stringify(entries[i]!.path)} is listed twice`);
    }
  }
  return entries;
}

async function* generateTar(options: {
  root: string;
  entries: PackEntry[];
  verifyContent: boolean | "auto";
  fingerprints: FolderScan["fingerprints"];
  signal: AbortSignal | undefined;
}): AsyncGenerator<Buffer> {
  const { root, entries, verifyContent, fingerprints, signal } = options;
  for (const entry of entries) {
    CancelledError.throwIfAborted(signal, "[storage] [archive] Packing");
    if (entry.type === "directory") {
      yield encodeTarHeader(entry);
    } else {
      // "auto": trust a settled fingerprint (checked before and after reading), hash the rest.
      const fingerprint = verifyContent === "auto" ? fingerprints?.get(entry.path) : undefined;
      const hashIt = verifyContent === true || (verifyContent === "auto" && !fingerprint?.settled);
      yield* fileEntry({ root, entry, verifyContent: hashIt, fingerprint, signal });
    }
  }
  yield END_OF_ARCHIVE;
}

async function* fileEntry(options: {
  root: string;
  entry: Extract<PackEntry, { type: "file" }>;
  verifyContent: boolean;
  fingerprint: FileFingerprint | undefined;
  signal: AbortSignal | undefined;
}): AsyncGenerator<Buffer> {
  const { root, entry, verifyContent, fingerprint, signal } = options;
  const abs = path.join(root, ...entry.path.split("/"));
  const where = JSON.stringify(entry.path);
  let handle: FileHandle;
  try {
    handle = await open(abs, constants.O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    throw new IntegrityError(
      `[storage] [archive] Cannot pack ${where}: it changed since the scan (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      { cause: error },
    );
  }
  try {
    const before = await fsStep(where, () => handle.stat({ bigint: true }));
    if (!verifyContent && fingerprint) checkFingerprint(where, fingerprint, before);
    if (!before.isFile()) {
      throw new IntegrityError(
        `[storage] [archive] Cannot pack ${where}: it is no longer a regular file`,
      );
    }
    if (before.size !== BigInt(entry.size))
      throw changedSize(where, entry.size, Number(before.size));
    const hash = verifyContent ? createHash("sha256") : undefined;
    const padding = (TAR_BLOCK_SIZE - (entry.size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
    yield encodeTarHeader(entry);
    let position = 0;
    while (position < entry.size) {
      CancelledError.throwIfAborted(signal, "[storage] [archive] Packing");
      const length = Math.min(CHUNK_SIZE, entry.size - position);
      const last = position + length === entry.size;
      // A fresh buffer per chunk: the consumer may still hold the previous ones.
      const chunk = Buffer.allocUnsafe(last ? length + padding : length);
      let filled = 0;
      while (filled < length) {
        const offset = filled;
        const { bytesRead } = await fsStep(where, () =>
          handle.read(chunk, offset, length - offset, position + offset),
        );
        if (bytesRead === 0) throw changedSize(where, entry.size, position + filled);
        filled += bytesRead;
      }
      hash?.update(chunk.subarray(0, length));
      if (last) chunk.fill(0, length);
      position += length;
      yield chunk;
    }
    const after = await fsStep(where, () => handle.stat({ bigint: true }));
    if (after.size !== BigInt(entry.size)) throw changedSize(where, entry.size, Number(after.size));
    if (!verifyContent && fingerprint) checkFingerprint(where, fingerprint, after);
    if (hash !== undefined) {
      const actual = hash.digest("hex");
      if (actual !== entry.sha256) {
        throw new IntegrityError(
          `[storage] [archive] Cannot pack ${where}: its content changed since the scan (sha256 ${actual}, scanned ${entry.sha256})`,
        );
      }
    }
  } finally {
    await handle.close();
  }
}

/** Fails when a file's inode or change times differ from what the scan hashed. */
function checkFingerprint(where: string, fingerprint: FileFingerprint, now: BigIntStats): void {
  if (
    now.ino !== fingerprint.ino ||
    now.mtimeNs !== fingerprint.mtimeNs ||
    now.ctimeNs !== fingerprint.ctimeNs
  ) {
    throw new IntegrityError(
      `[storage] [archive] Cannot pack ${where}: it changed since the scan (it was modified or replaced)`,
    );
  }
}

/** Runs one filesystem call, turning its failure into an IntegrityError naming the entry. */
async function fsStep<T>(where: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new IntegrityError(
      `[storage] [archive] Cannot pack ${where}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function changedSize(where: string, expected: number, actual: number): IntegrityError {
  return new IntegrityError(
    `[storage] [archive] Cannot pack ${where}: its size changed since the scan (scanned ${expected} bytes, now ${actual})`,
  );
}

function invalidOption(field: string, problem: string): ValidationError {
  return new ValidationError(`[storage] [archive] Invalid ${field}: ${problem}`, {
    issues: [{ path: field, message: problem }],
  });
}
