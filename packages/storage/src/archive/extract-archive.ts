import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import {
  CancelledError,
  type CheckpointFile,
  ConflictError,
  IntegrityError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { checkpointFileProblem } from "./checkpoint-file-problem.js";
import type { ArchiveCompression } from "./default-compression.js";
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "./default-extract-limits.js";
import { entryPathProblem } from "./entry-path-problem.js";
import { readTarEntries, type TarEntry } from "./read-tar-entries.js";

export interface ExtractArchiveOptions {
  /** The archive bytes (as stored: compressed when `compression` says so). Consumed. */
  source: Readable;
  /** Folder to create. Must not exist; its parent must. */
  target: string;
  compression: ArchiveCompression;
  /** The manifest: every file the archive must hold, and nothing else. */
  expectedFiles: readonly CheckpointFile[];
  /**
   * When given, a directory entry must be listed here or be an ancestor of a listed file or
   * directory, and every listed directory must exist at the end. When absent, directory
   * entries (empty directories) are accepted as long as their paths are safe.
   */
  expectedDirectories?: readonly string[];
  limits?: Partial<ExtractLimits>;
  signal?: AbortSignal;
}

const CREATE_FILE =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
/** Room in an extended header beyond the path itself (mtime, atime, … records). */
const META_OVERHEAD_BYTES = 16 * 1024;

/**
 * Extracts a checkpoint archive safely and atomically.
 *
 * The archive is read as a stream (bounded memory) into a fresh folder next to `target`
 * (`.<name>.partial-XXXXXX`, mode 0700 while it is filled). Every entry is checked before
 * anything is written for it: only regular files and directories, safe relative paths (no
 * absolute, `..`, `.`, empty segment, backslash, drive letter, NUL or control character), no
 * duplicates, within `limits`, and each file listed in `expectedFiles` with the same size.
 * Files are created with O_EXCL|O_NOFOLLOW under directories this call created itself, written
 * 0644 (directories 0755; modes in the archive, setuid/setgid/sticky included, are ignored),
 * and hashed while written; a sha256 mismatch or a missing file fails the extraction. Once
 * everything is verified the folder is fsynced once and renamed to `target`.
 *
 * On any failure — refused entry (`IntegrityError` naming the path and reason), corrupt,
 * truncated or non-tar input, bad gzip, cancellation (`CancelledError`) — the partial folder is
 * removed and `target` does not exist. Bad options are a `ValidationError`.
 */
export async function extractArchive(options: ExtractArchiveOptions): Promise<void> {
  const { source, compression, signal } = options;
  if (source === null || typeof source !== "object" || typeof source.pipe !== "function") {
    throw invalidOption("source", "must be a readable stream");
  }
  if (compression !== "none" && compression !== "gzip") {
    throw invalidOption(
      "compression",
      `must be "none" or "gzip", got ${JSON.stringify(compression)}`,
    );
  }
  if (typeof options.target !== "string" || options.target === "") {
    throw invalidOption("target", "must be a non-empty string");
  }
  // Nothing may flow past us while we prepare (a stream in flowing mode would drop data).
  source.pause();
  const limits = resolveLimits(options.limits);
  const expected = expectedFileMap(options.expectedFiles);
  const expectedDirectories = expectedDirectorySet(options.expectedDirectories);
  CancelledError.throwIfAborted(signal, "[storage] [archive] Extraction");

  const target = path.resolve(options.target);
  const parent = path.dirname(target);
  if (await exists(target)) {
    throw new ValidationError(
      `[storage] [archive] Cannot extract to ${JSON.stringify(target)}: it already exists`,
      { issues: [{ path: "target", message: "already exists" }] },
    );
  }
  const parentStat = await lstat(parent).catch(() => undefined);
  if (parentStat === undefined || !parentStat.isDirectory()) {
    throw new ValidationError(
      `[storage] [archive] Cannot extract to ${JSON.stringify(target)}: its parent directory does not exist`,
      { issues: [{ path: "target", message: "parent directory does not exist" }] },
    );
  }

  const temp = await mkdtemp(path.join(parent, `.${path.basename(target)}.partial-`));
  const input = compression === "gzip" ? pipeline(source, createGunzip(), () => {}) : source;
  const onAbort = (): void => {
    const error = new CancelledError("[storage] [archive] Extraction cancelled", {
      cause: signal?.reason,
    });
    if (!input.destroyed) input.destroy(error);
    if (!source.destroyed) source.destroy(error);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const writer = new FolderWriter({ root: temp, expected, expectedDirectories, limits, signal });
    for await (const entry of readTarEntries({
      source: input,
      maxMetaBytes: limits.maxPathLength + META_OVERHEAD_BYTES,
    })) {
      await writer.add(entry);
    }
    writer.finish();
    CancelledError.throwIfAborted(signal, "[storage] [archive] Extraction");
    await chmod(temp, 0o755);
    await fsyncDirectory(temp);
    try {
      await rename(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST" || code === "EISDIR" || code === "ENOTDIR") {
        throw new ConflictError(
          `[storage] [archive] Cannot extract to ${JSON.stringify(target)}: it was created by someone else meanwhile`,
          { cause: error },
        );
      }
      throw error;
    }
  } catch (error) {
    input.destroy();
    source.destroy();
    await rm(temp, { recursive: true, force: true, maxRetries: 3 });
    throw translateError(error, signal);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  await fsyncDirectory(parent).catch(() => {});
}

/** Checks entries and writes them under `root`, a folder nobody else writes to. */
class FolderWriter {
  readonly #root: string;
  readonly #expected: Map<string, CheckpointFile>;
  readonly #expectedDirectories: Set<string> | undefined;
  /** Directories that may appear: listed ones and every ancestor of a listed path. */
  readonly #allowedDirectories: Set<string> | undefined;
  readonly #limits: ExtractLimits;
  readonly #signal: AbortSignal | undefined;
  /** Every path created so far (explicitly or as a parent) and what it is. */
  readonly #created = new Map<string, "file" | "directory">();
  /** Directories that had their own entry (to catch duplicates). */
  readonly #directoryEntries = new Set<string>();
  #entries = 0;
  #totalBytes = 0;

  constructor(options: {
    root: string;
    expected: Map<string, CheckpointFile>;
    expectedDirectories: Set<string> | undefined;
    limits: ExtractLimits;
    signal: AbortSignal | undefined;
  }) {
    this.#root = options.root;
    this.#expected = options.expected;
    this.#expectedDirectories = options.expectedDirectories;
    this.#limits = options.limits;
    this.#signal = options.signal;
    if (options.expectedDirectories !== undefined) {
      const allowed = new Set(options.expectedDirectories);
      for (const listed of [...options.expected.keys(), ...options.expectedDirectories]) {
        for (const ancestor of ancestorsOf(listed)) allowed.add(ancestor);
      }
      this.#allowedDirectories = allowed;
    }
  }

  async add(entry: TarEntry): Promise<void> {
    CancelledError.throwIfAborted(this.#signal, "[storage] [archive] Extraction");
    const isDirectory = entry.type === "directory";
    const relative = isDirectory && entry.path.endsWith("/") ? entry.path.slice(0, -1) : entry.path;
    const refuse = (reason: string, cause?: unknown): IntegrityError =>
      new IntegrityError(
        `[storage] [archive] Refused archive entry ${JSON.stringify(entry.path)}: ${reason}`,
        cause === undefined ? undefined : { cause },
      );
    // A name the filesystem cannot hold (a segment over NAME_MAX, 255 bytes on most) is a
    // refused entry too, not a raw errno error.
    const writing = async <T>(write: () => Promise<T>): Promise<T> => {
      try {
        return await write();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENAMETOOLONG") {
          throw refuse("a path segment is longer than the filesystem allows (ENAMETOOLONG)", error);
        }
        throw error;
      }
    };

    const problem = entryPathProblem(relative);
    if (problem !== undefined) throw refuse(problem);
    const pathBytes = Buffer.byteLength(relative);
    if (pathBytes > this.#limits.maxPathLength) {
      throw refuse(
        `path is ${pathBytes} bytes, longer than the limit of ${this.#limits.maxPathLength} (maxPathLength)`,
      );
    }
    this.#entries += 1;
    if (this.#entries > this.#limits.maxEntries) {
      throw refuse(
        `the archive has more than ${this.#limits.maxEntries} entries (maxEntries limit)`,
      );
    }
    if (!isDirectory) {
      if (this.#totalBytes + entry.size > this.#limits.maxTotalBytes) {
        throw refuse(
          `the archive holds more than ${this.#limits.maxTotalBytes} bytes of file data (maxTotalBytes limit)`,
        );
      }
      this.#totalBytes += entry.size;
    }

    const existing = this.#created.get(relative);
    if (existing === "file" || (isDirectory && this.#directoryEntries.has(relative))) {
      throw refuse("duplicate entry: this path appeared earlier in the archive");
    }
    if (existing === "directory" && !isDirectory) {
      throw refuse("a directory of the same path appeared earlier in the archive");
    }
    const ancestors = ancestorsOf(relative);
    for (const ancestor of ancestors) {
      if (this.#created.get(ancestor) === "file") {
        throw refuse(`its parent ${JSON.stringify(ancestor)} is a file`);
      }
    }

    if (isDirectory) {
      if (this.#allowedDirectories !== undefined && !this.#allowedDirectories.has(relative)) {
        throw refuse("directory is not listed in the manifest");
      }
      this.#directoryEntries.add(relative);
      await writing(() => this.#ensureDirectories([...ancestors, relative]));
      return;
    }

    const wanted = this.#expected.get(relative);
    if (wanted === undefined) throw refuse("file is not listed in the manifest");
    if (wanted.size !== entry.size) {
      throw refuse(`size is ${entry.size} bytes, the manifest says ${wanted.size}`);
    }
    await writing(() => this.#ensureDirectories(ancestors));
    this.#created.set(relative, "file");
    const actual = await writing(() => this.#writeFile(relative, entry));
    if (actual !== wanted.sha256) {
      throw refuse(`sha256 is ${actual}, the manifest says ${wanted.sha256}`);
    }
  }

  /** Fails when a listed file or directory never appeared. */
  finish(): void {
    for (const listed of this.#expected.keys()) {
      if (this.#created.get(listed) !== "file") {
        throw new IntegrityError(
          `[storage] [archive] Missing file ${JSON.stringify(listed)}: it is listed in the manifest but not in the archive`,
        );
      }
    }
    for (const listed of this.#expectedDirectories ?? []) {
      if (this.#created.get(listed) !== "directory") {
        throw new IntegrityError(
          `[storage] [archive] Missing directory ${JSON.stringify(listed)}: it is listed in the manifest but not in the archive`,
        );
      }
    }
  }

  async #ensureDirectories(directories: readonly string[]): Promise<void> {
    for (const directory of directories) {
      if (this.#created.has(directory)) continue;
      const absolute = this.#absolute(directory);
      await mkdir(absolute, { mode: 0o755 });
      await chmod(absolute, 0o755);
      this.#created.set(directory, "directory");
    }
  }

  async #writeFile(relative: string, entry: TarEntry): Promise<string> {
    let handle: FileHandle;
    try {
      handle = await open(this.#absolute(relative), CREATE_FILE, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new IntegrityError(
          `[storage] [archive] Refused archive entry ${JSON.stringify(entry.path)}: the path already exists (two names for one file on a case-insensitive filesystem?)`,
          { cause: error },
        );
      }
      throw error;
    }
    try {
      const hash = createHash("sha256");
      for await (const chunk of entry.body()) {
        const written = writeAll(handle, chunk);
        hash.update(chunk);
        await written;
      }
      await handle.chmod(0o644);
      return hash.digest("hex");
    } finally {
      await handle.close();
    }
  }

  #absolute(relative: string): string {
    return path.join(this.#root, ...relative.split("/"));
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function ancestorsOf(relative: string): string[] {
  const ancestors: string[] = [];
  let slash = relative.indexOf("/");
  while (slash !== -1) {
    ancestors.push(relative.slice(0, slash));
    slash = relative.indexOf("/", slash + 1);
  }
  return ancestors;
}

function resolveLimits(limits: Partial<ExtractLimits> | undefined): ExtractLimits {
  const resolved = { ...DEFAULT_EXTRACT_LIMITS, ...limits };
  for (const key of ["maxTotalBytes", "maxEntries", "maxPathLength"] as const) {
    const value = resolved[key] ?? DEFAULT_EXTRACT_LIMITS[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw invalidOption(`limits.${key}`, `must be a non-negative integer, got ${value}`);
    }
    resolved[key] = value;
  }
  return resolved;
}

function expectedFileMap(files: readonly CheckpointFile[]): Map<string, CheckpointFile> {
  if (!Array.isArray(files)) throw invalidOption("expectedFiles", "must be an array");
  const map = new Map<string, CheckpointFile>();
  for (const file of files) {
    const problem = checkpointFileProblem(file);
    if (problem !== undefined) {
      throw invalidOption("expectedFiles", `${JSON.stringify(file?.path)}: ${problem}`);
    }
    if (map.has(file.path)) {
      throw invalidOption("expectedFiles", `${JSON.stringify(file.path)} is listed twice`);
    }
    map.set(file.path, file);
  }
  return map;
}

function expectedDirectorySet(directories: readonly string[] | undefined): Set<string> | undefined {
  if (directories === undefined) return undefined;
  if (!Array.isArray(directories)) throw invalidOption("expectedDirectories", "must be an array");
  for (const directory of directories) {
    const problem =
      typeof directory === "string" ? entryPathProblem(directory) : "must be a string";
    if (problem !== undefined) {
      throw invalidOption("expectedDirectories", `${JSON.stringify(directory)}: ${problem}`);
    }
  }
  return new Set(directories);
}

async function exists(target: string): Promise<boolean> {
  try {
    await lstat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** fsync on a directory: makes the names in it durable. Not supported on Windows. */
async function fsyncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (process.platform === "win32" && (code === "EPERM" || code === "EISDIR")) return;
    throw error;
  } finally {
    await handle?.close();
  }
}

function translateError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) {
    return CancelledError.isInstance(error)
      ? error
      : new CancelledError("[storage] [archive] Extraction cancelled", { cause: signal.reason });
  }
  if (TrainableError.isInstance(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new IntegrityError(
      `[storage] [archive] Corrupt archive: the gzip stream is damaged or truncated (${(error as Error).message})`,
      { cause: error },
    );
  }
  return error;
}

function invalidOption(field: string, problem: string): ValidationError {
  return new ValidationError(`[storage] [archive] Invalid ${field}: ${problem}`, {
    issues: [{ path: field, message: problem }],
  });
}
