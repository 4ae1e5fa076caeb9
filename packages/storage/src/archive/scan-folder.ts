import { createHash, randomUUID } from "node:crypto";
import { type BigIntStats, constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  CancelledError,
  type CheckpointFile,
  IntegrityError,
  ValidationError,
} from "@trainable/core";
import { CHUNK_SIZE } from "./chunk-size.js";
import { comparePaths } from "./compare-paths.js";
import { entryPathProblem } from "./entry-path-problem.js";

export interface ScanFolderOptions {
  /** The checkpoint folder. Followed if it is itself a symlink; nothing inside it is. */
  folder: string;
  signal?: AbortSignal;
  /** Files hashed at the same time (default 4). Each holds one 1 MiB read buffer. */
  concurrency?: number;
}

export interface FolderScan {
  /** Every regular file, sorted by path (UTF-8 byte order), with its size and sha256. */
  files: CheckpointFile[];
  /** Every directory below the folder (so empty ones survive), sorted the same way. */
  directories: string[];
  /** Sum of the file sizes. */
  totalBytes: number;
  /** How each file looked (inode, times) when it was hashed, by path. */
  fingerprints?: ReadonlyMap<string, FileFingerprint>;
}

/**
 * A file's identity and change times as hashed. `ctime` cannot be set by user code, so any
 * later write, truncate, chmod or replace gives a different fingerprint. `settled` is true
 * when the filesystem clock had already moved past the file's ctime after the scan: then a
 * later change is certain to show, and packing may trust the fingerprint instead of hashing
 * the file a second time.
 */
export interface FileFingerprint {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  settled: boolean;
}

/** Longest relative path accepted (as in the `CheckpointFile` schema), in UTF-8 bytes. */
const MAX_PATH_BYTES = 4096;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Walks `folder` and describes its content: paths use `/`, entries are sorted by UTF-8 bytes,
 * and every regular file is hashed by streaming it in 1 MiB reads (bounded memory).
 * Symlinks, devices, sockets and FIFOs are a `ValidationError` naming the path, as are names a
 * checkpoint archive could not carry safely (see `entryPathProblem`).
 */
export async function scanFolder(options: ScanFolderOptions): Promise<FolderScan> {
  const { folder, signal } = options;
  if (typeof folder !== "string" || folder === "") {
    throw new ValidationError("[storage] [archive] Invalid folder: must be a non-empty string", {
      issues: [{ path: "folder", message: "must be a non-empty string" }],
    });
  }
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ValidationError(
      `[storage] [archive] Invalid concurrency: ${concurrency} is not a positive integer`,
      { issues: [{ path: "concurrency", message: "must be a positive integer" }] },
    );
  }
  CancelledError.throwIfAborted(signal, "[storage] [archive] Scan");
  const root = path.resolve(folder);
  let rootStat: Stats;
  try {
    rootStat = await stat(root);
  } catch (error) {
    throw new ValidationError(
      `[storage] [archive] Cannot scan folder ${JSON.stringify(root)}: ${describeFsError(error)}`,
      { cause: error, issues: [{ path: "folder", message: "cannot be read" }] },
    );
  }
  if (!rootStat.isDirectory()) {
    throw new ValidationError(
      `[storage] [archive] Cannot scan ${JSON.stringify(root)}: it is not a directory`,
      { issues: [{ path: "folder", message: "is not a directory" }] },
    );
  }

  const found: Array<{ rel: string; abs: string }> = [];
  const directories: string[] = [];
  await walk({ dirAbs: root, dirRel: "", found, directories, signal });
  found.sort((a, b) => comparePaths(a.rel, b.rel));
  directories.sort(comparePaths);

  const files = new Array<CheckpointFile>(found.length);
  const stats = new Array<BigIntStats>(found.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(CHUNK_SIZE);
    while (next < found.length) {
      const index = next++;
      const item = found[index]!;
      const hashed = await hashFile(item.abs, buffer, signal);
      files[index] = { path: item.rel, size: hashed.size, sha256: hashed.sha256 };
      stats[index] = hashed.stat;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, found.length) }, worker));

  const clock = await filesystemNow();
  const fingerprints = new Map<string, FileFingerprint>();
  files.forEach((file, index) => {
    const s = stats[index]!;
    fingerprints.set(file.path, {
      ino: s.ino,
      size: s.size,
      mtimeNs: s.mtimeNs,
      ctimeNs: s.ctimeNs,
      settled: clock !== undefined && s.ctimeNs < clock,
    });
  });
  let totalBytes = 0;
  for (const file of files) totalBytes += file.size;
  return { files, directories, totalBytes, fingerprints };
}

/** The filesystem's current time, as the ctime of a file created now (undefined if unknown). */
async function filesystemNow(): Promise<bigint | undefined> {
  const probe = path.join(tmpdir(), `.trainable-clock-${process.pid}-${randomUUID()}`);
  try {
    await writeFile(probe, "");
    return (await stat(probe, { bigint: true })).ctimeNs;
  } catch {
    return undefined;
  } finally {
    await rm(probe, { force: true });
  }
}

async function walk(options: {
  dirAbs: string;
  dirRel: string;
  found: Array<{ rel: string; abs: string }>;
  directories: string[];
  signal: AbortSignal | undefined;
}): Promise<void> {
  const { dirAbs, dirRel, found, directories, signal } = options;
  CancelledError.throwIfAborted(signal, "[storage] [archive] Scan");
  let names: Buffer[];
  try {
    names = await readdir(dirAbs, { encoding: "buffer" });
  } catch (error) {
    throw new ValidationError(
      `[storage] [archive] Cannot read directory ${JSON.stringify(dirAbs)}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
  for (const raw of names) {
    let name: string;
    try {
      name = utf8.decode(raw);
    } catch {
      throw new ValidationError(
        `[storage] [archive] Cannot archive ${JSON.stringify(path.join(dirAbs, raw.toString("latin1")))}: its name is not valid UTF-8`,
      );
    }
    const rel = dirRel === "" ? name : `${dirRel}/${name}`;
    const abs = path.join(dirAbs, name);
    const problem = entryPathProblem(rel);
    if (problem !== undefined) {
      throw new ValidationError(
        `[storage] [archive] Cannot archive ${JSON.stringify(abs)}: ${problem}`,
      );
    }
    if (Buffer.byteLength(rel) > MAX_PATH_BYTES) {
      throw new ValidationError(
        `[storage] [archive] Cannot archive ${JSON.stringify(abs)}: its relative path is longer than ${MAX_PATH_BYTES} bytes`,
      );
    }
    let entryStat: Stats;
    try {
      entryStat = await lstat(abs);
    } catch (error) {
      throw new ValidationError(
        `[storage] [archive] Cannot read ${JSON.stringify(abs)}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
    if (entryStat.isDirectory()) {
      directories.push(rel);
      await walk({ dirAbs: abs, dirRel: rel, found, directories, signal });
    } else if (entryStat.isFile()) {
      found.push({ rel, abs });
    } else {
      throw new ValidationError(
        `[storage] [archive] Cannot archive ${JSON.stringify(abs)}: it is a ${kindOf(entryStat)}; a checkpoint folder may hold only regular files and directories`,
      );
    }
  }
}

async function hashFile(
  abs: string,
  buffer: Buffer,
  signal: AbortSignal | undefined,
): Promise<{ size: number; sha256: string; stat: BigIntStats }> {
  CancelledError.throwIfAborted(signal, "[storage] [archive] Scan");
  let handle: FileHandle;
  try {
    handle = await open(abs, constants.O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    throw new ValidationError(
      `[storage] [archive] Cannot read ${JSON.stringify(abs)}: ${describeFsError(error)}`,
      { cause: error },
    );
  }
  try {
    const fileStat = await handle.stat({ bigint: true });
    if (!fileStat.isFile()) {
      throw new ValidationError(
        `[storage] [archive] Cannot archive ${JSON.stringify(abs)}: it is a ${kindOf(fileStat)}; a checkpoint folder may hold only regular files and directories`,
      );
    }
    const hash = createHash("sha256");
    let size = 0;
    for (;;) {
      CancelledError.throwIfAborted(signal, "[storage] [archive] Scan");
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    const after = await handle.stat({ bigint: true });
    if (
      after.ctimeNs !== fileStat.ctimeNs ||
      after.mtimeNs !== fileStat.mtimeNs ||
      after.size !== BigInt(size)
    ) {
      throw new IntegrityError(
        `[storage] [archive] ${JSON.stringify(abs)} changed while it was being read: save the checkpoint once it is completely written`,
      );
    }
    return { size, sha256: hash.digest("hex"), stat: after };
  } finally {
    await handle.close();
  }
}

function kindOf(entryStat: Stats | BigIntStats): string {
  if (entryStat.isSymbolicLink()) return "symbolic link";
  if (entryStat.isSocket()) return "socket";
  if (entryStat.isFIFO()) return "FIFO";
  if (entryStat.isCharacterDevice()) return "character device";
  if (entryStat.isBlockDevice()) return "block device";
  return "special file";
}

function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${code} (${error.message})`;
  }
  return String(error);
}
