import { createHash } from "node:crypto";
import fs, { constants } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline, type Readable } from "node:stream";
import { promisify } from "node:util";
import { createGunzip } from "node:zlib";
import {
  CancelledError,
  ConflictError,
  IntegrityError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { exists } from "@trainable/internal-node";
import { Header } from "tar";
import { HashWorker } from "../util/hash-worker.js";
import { ByteReader } from "./byte-reader.js";
import type { ArchiveCompression } from "./default-compression.js";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import type { ManifestEntry } from "./manifest.js";

export interface ExtractArchiveOptions {
  /** The archive bytes (as stored: compressed when `compression` says so). Consumed. */
  source: Readable;
  /**
   * The checkpoint's manifest, in archive order, already checked entry by entry (see
   * `readManifestEntries`): the archive must be exactly its canonical tar.
   */
  manifest: AsyncIterable<ManifestEntry> | Iterable<ManifestEntry>;
  /** Folder to create. Must not exist; its parent must. */
  target: string;
  compression: ArchiveCompression;
  /** Named in error messages (e.g. the blob key). */
  what?: string;
  /**
   * Flush every file and directory to disk before the folder is renamed into place, so a
   * crash never leaves a complete-looking folder with missing data (default true).
   */
  durable?: boolean;
  signal?: AbortSignal;
}

const CREATE_FILE =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
/** Files up to this size are buffered whole and written by a pool, several at a time. */
const SMALL_FILE_MAX = 1024 * 1024;
/** Files from this size are hashed on a worker thread. */
const WORKER_HASH_MIN = 4 * 1024 * 1024;
/** Bytes of a large file gathered before each write and hash call. */
const GATHER_BYTES = 1024 * 1024;
/** Small files being written at the same time (each holds its bytes until written). */
const WRITE_CONCURRENCY = 32;
const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);
const ZEROS = Buffer.alloc(TAR_BLOCK_SIZE);

const openFd = promisify(fs.open);
const writeFd = (fd: number, buffer: Buffer, offset: number, length: number) =>
  new Promise<number>((resolve, reject) => {
    fs.write(fd, buffer, offset, length, null, (error, written) =>
      error ? reject(error) : resolve(written),
    );
  });
// Looked up at each call (not captured), so tests can observe when files are flushed.
const datasyncFd = (fd: number) =>
  new Promise<void>((resolve, reject) => {
    fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
  });
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);
const fchmodFd = promisify(fs.fchmod);

/**
 * Extracts a checkpoint archive exactly, safely and atomically.
 *
 * The archive of a checkpoint is a pure function of its manifest (see `packFolder`), so the
 * extractor does not interpret tar headers at all: for each manifest entry it compares the
 * next bytes with the header that entry must have, byte for byte, then takes exactly `size`
 * data bytes (hashed, and compared with the manifest's sha256), then zero padding; after the
 * last entry, the end-of-archive blocks and nothing else. Every byte of the archive is
 * checked once. Only the manifest's files and directories are ever created: a link, a device,
 * an absolute or `..` path, an extra or a missing entry, a different size, mode or name — any
 * byte off the canonical form — is an `IntegrityError` naming the entry.
 *
 * Everything lands in a fresh folder next to `target` (`.<name>.partial-XXXXXX`), files created
 * with O_EXCL|O_NOFOLLOW, 0644 (directories 0755); small files are written several at a time.
 * Once all is verified (and, with `durable`, flushed to disk) the folder is renamed to `target`.
 * On any failure, cancellation included, the partial folder is removed and `target` does not
 * exist.
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
  source.pause();
  CancelledError.throwIfAborted(signal, "[storage] Extraction");
  const durable = options.durable ?? true;
  const what = options.what ?? "the archive";
  const target = path.resolve(options.target);
  const parent = path.dirname(target);
  if (await exists(target)) {
    throw new ValidationError(
      `[storage] Cannot extract to ${JSON.stringify(target)}: it already exists`,
      { issues: [{ path: "target", message: "already exists" }] },
    );
  }
  const parentStat = await lstat(parent).catch(() => undefined);
  if (parentStat === undefined || !parentStat.isDirectory()) {
    throw new ValidationError(
      `[storage] Cannot extract to ${JSON.stringify(target)}: its parent directory does not exist`,
      { issues: [{ path: "target", message: "parent directory does not exist" }] },
    );
  }

  const temp = await mkdtemp(path.join(parent, `.${path.basename(target)}.partial-`));
  const input = compression === "gzip" ? pipeline(source, createGunzip(), () => {}) : source;
  const onAbort = (): void => {
    const error = new CancelledError("[storage] Extraction cancelled", { cause: signal?.reason });
    if (!input.destroyed) input.destroy(error);
    if (!source.destroyed) source.destroy(error);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const writer = new FolderWriter({ root: temp, what, durable, signal });
  try {
    await consumeArchive(new ByteReader(input), options.manifest, writer);
    await writer.finish();
    CancelledError.throwIfAborted(signal, "[storage] Extraction");
    await chmod(temp, 0o755);
    try {
      await rename(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST" || code === "EISDIR" || code === "ENOTDIR") {
        throw new ConflictError(
          `[storage] Cannot extract to ${JSON.stringify(target)}: it was created by someone else meanwhile`,
          { cause: error },
        );
      }
      throw error;
    }
  } catch (error) {
    input.destroy();
    source.destroy();
    await writer.abort();
    await rm(temp, { recursive: true, force: true, maxRetries: 3 });
    throw translateError(error, signal, what);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (durable) await fsyncPath(parent).catch(() => {});
}

/**
 * Checks an archive against its manifest exactly as `extractArchive` does, writing nothing:
 * every byte is read and compared or hashed once. For `verify` (re-hashing stored blobs).
 */
export async function verifyArchive(
  options: Omit<ExtractArchiveOptions, "target" | "durable">,
): Promise<void> {
  const { source, compression, signal } = options;
  const what = options.what ?? "the archive";
  source.pause();
  const input = compression === "gzip" ? pipeline(source, createGunzip(), () => {}) : source;
  const onAbort = (): void => {
    input.destroy(
      new CancelledError("[storage] Verification cancelled", { cause: signal?.reason }),
    );
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const writer = new FolderWriter({ root: undefined, what, durable: false, signal });
  try {
    await consumeArchive(new ByteReader(input), options.manifest, writer);
    await writer.finish();
  } catch (error) {
    input.destroy();
    source.destroy();
    await writer.abort();
    throw translateError(error, signal, what);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Reads the archive entry by entry against the manifest (see `extractArchive`). */
async function consumeArchive(
  reader: ByteReader,
  manifest: ExtractArchiveOptions["manifest"],
  writer: FolderWriter,
): Promise<void> {
  let count = 0;
  for await (const entry of manifest) {
    count++;
    await writer.expectHeader(reader, entry, count);
    if (entry.type === "directory") {
      await writer.directory(entry.path);
    } else {
      await writer.file(reader, entry);
    }
  }
  const end = await reader.read(END_OF_ARCHIVE.length);
  if (!end.equals(END_OF_ARCHIVE)) {
    throw writer.refuse(
      end.length < END_OF_ARCHIVE.length
        ? "it ends before its end-of-archive marker (truncated)"
        : `it holds more than the ${count} entries of its manifest (${describeHeader(end.subarray(0, TAR_BLOCK_SIZE))})`,
    );
  }
  if ((await reader.read(1)).length > 0) {
    throw writer.refuse("it has bytes after its end-of-archive marker");
  }
}

/**
 * Creates the entries under `root` (a folder nobody else writes to), small files in a pool;
 * with no `root`, only checks them.
 */
class FolderWriter {
  readonly #root: string | undefined;
  readonly #what: string;
  readonly #durable: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #directories: string[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;
  #hasher: HashWorker | undefined;
  #fileMode: number | undefined;

  constructor(options: {
    root: string | undefined;
    what: string;
    durable: boolean;
    signal: AbortSignal | undefined;
  }) {
    this.#root = options.root;
    this.#what = options.what;
    this.#durable = options.durable;
    this.#signal = options.signal;
    if (options.root !== undefined) this.#directories.push(options.root);
  }

  refuse(reason: string): IntegrityError {
    return new IntegrityError(`[storage] ${this.#what} is damaged: ${reason}`);
  }

  async expectHeader(reader: ByteReader, entry: ManifestEntry, count: number): Promise<void> {
    CancelledError.throwIfAborted(this.#signal, "[storage] Extraction");
    if (this.#failure !== undefined) throw this.#failure;
    const expected = encodeTarHeader(
      entry.type === "file"
        ? { path: entry.path, type: "file", size: entry.size }
        : { path: entry.path, type: "directory" },
    );
    const got = await reader.read(expected.length);
    if (got.equals(expected)) return;
    const name = JSON.stringify(entry.path);
    if (got.length < expected.length) {
      throw this.refuse(`it ends before entry ${count} (${name}) of its manifest (truncated)`);
    }
    // Say what is there instead, as far as a header decoder can tell.
    const found = describeHeader(got.subarray(got.length - TAR_BLOCK_SIZE));
    const differs = headerDifference(
      expected.subarray(expected.length - TAR_BLOCK_SIZE),
      got.subarray(got.length - TAR_BLOCK_SIZE),
    );
    throw this.refuse(
      `entry ${count} is not the one its manifest lists: expected ${entry.type} ${name}, found ${found}${differs}`,
    );
  }

  async directory(relative: string): Promise<void> {
    if (this.#root === undefined) return;
    const absolute = this.#absolute(relative);
    try {
      await mkdir(absolute, { mode: 0o755 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "ENAMETOOLONG") throw error;
      throw ValidationError.forField(
        "storage",
        "target",
        `cannot hold directory ${JSON.stringify(relative)}: ${code === "EEXIST" ? "another entry already has that name here (a case-insensitive filesystem?)" : "the path is longer than this filesystem allows"}`,
      );
    }
    await chmod(absolute, 0o755);
    this.#directories.push(absolute);
  }

  async file(reader: ByteReader, entry: Extract<ManifestEntry, { type: "file" }>): Promise<void> {
    const name = JSON.stringify(entry.path);
    if (entry.size <= SMALL_FILE_MAX) {
      const data = await reader.read(entry.size);
      if (data.length < entry.size) {
        throw this.refuse(`it ends inside file ${name} (truncated)`);
      }
      const sha256 = createHash("sha256").update(data).digest("hex");
      if (sha256 !== entry.sha256) {
        throw this.refuse(`file ${name} has sha256 ${sha256}, its manifest says ${entry.sha256}`);
      }
      await this.#padding(reader, entry);
      if (this.#root !== undefined) await this.#schedule(() => this.#writeSmall(entry.path, data));
      return;
    }
    const fd = this.#root === undefined ? undefined : await this.#create(entry.path);
    try {
      const useWorker = entry.size >= WORKER_HASH_MIN;
      if (useWorker) this.#hasher ??= new HashWorker();
      const inline = useWorker ? undefined : createHash("sha256");
      let received = 0;
      // Network reads arrive in small pieces: gather them into ~1 MiB before writing and
      // hashing, so the per-call costs (a system call, a message to the hash worker) are paid
      // per MiB, not per 16 KiB.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const part = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        if (inline) {
          inline.update(part);
          if (fd !== undefined) await writeAll(fd, part);
        } else {
          await Promise.all([
            this.#hasher!.update(part),
            fd === undefined ? undefined : writeAll(fd, part),
          ]);
        }
      };
      for await (const part of reader.stream(entry.size)) {
        CancelledError.throwIfAborted(this.#signal, "[storage] Extraction");
        received += part.length;
        pending.push(part);
        pendingBytes += part.length;
        if (pendingBytes >= GATHER_BYTES) await flush();
      }
      await flush();
      if (received < entry.size) throw this.refuse(`it ends inside file ${name} (truncated)`);
      const sha256 = inline ? inline.digest("hex") : await this.#hasher!.digest();
      if (sha256 !== entry.sha256) {
        throw this.refuse(`file ${name} has sha256 ${sha256}, its manifest says ${entry.sha256}`);
      }
      if (this.#durable && fd !== undefined) await datasyncFd(fd);
    } finally {
      if (fd !== undefined) await closeFd(fd);
    }
    await this.#padding(reader, entry);
  }

  /** Waits for every write; fsyncs the directories when durable. */
  async finish(): Promise<void> {
    await this.#drain();
    if (this.#failure !== undefined) throw this.#failure;
    await this.#hasher?.close();
    if (this.#durable) {
      for (let i = 0; i < this.#directories.length; i += WRITE_CONCURRENCY) {
        await Promise.all(this.#directories.slice(i, i + WRITE_CONCURRENCY).map(fsyncPath));
      }
    }
  }

  /** Stops: waits for writes in flight (so nothing is written after the folder is removed). */
  async abort(): Promise<void> {
    await this.#drain();
    await this.#hasher?.close();
  }

  async #padding(reader: ByteReader, entry: { path: string; size: number }): Promise<void> {
    const padding = (TAR_BLOCK_SIZE - (entry.size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
    if (padding === 0) return;
    const bytes = await reader.read(padding);
    if (!bytes.equals(ZEROS.subarray(0, padding))) {
      throw this.refuse(
        bytes.length < padding
          ? `it ends inside the padding of ${JSON.stringify(entry.path)} (truncated)`
          : `the padding after ${JSON.stringify(entry.path)} is not zero`,
      );
    }
  }

  async #schedule(task: () => Promise<void>): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    while (this.#inFlight.size >= WRITE_CONCURRENCY) {
      await Promise.race(this.#inFlight);
      if (this.#failure !== undefined) throw this.#failure;
    }
    const promise: Promise<void> = task().then(
      () => {
        this.#inFlight.delete(promise);
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#inFlight.delete(promise);
      },
    );
    this.#inFlight.add(promise);
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #writeSmall(relative: string, data: Buffer): Promise<void> {
    const fd = await this.#create(relative);
    try {
      await writeAll(fd, data);
      if (this.#durable) await datasyncFd(fd);
    } finally {
      await closeFd(fd);
    }
  }

  async #create(relative: string): Promise<number> {
    let fd: number;
    try {
      fd = await openFd(this.#absolute(relative), CREATE_FILE, 0o644);
    } catch (error) {
      // The checkpoint is fine; this machine's filesystem cannot hold it as it is.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        throw ValidationError.forField(
          "storage",
          "target",
          `cannot hold ${JSON.stringify(relative)}: another entry already has that name here (a case-insensitive filesystem?)`,
        );
      }
      if (code === "ENAMETOOLONG") {
        throw ValidationError.forField(
          "storage",
          "target",
          `cannot hold ${JSON.stringify(relative)}: the path is longer than this filesystem allows`,
        );
      }
      throw error;
    }
    // The umask may take bits off 0644: put them back (checked once, on the first file).
    if (this.#fileMode === undefined) {
      this.#fileMode = (await promisify(fs.fstat)(fd)).mode & 0o7777;
    }
    if (this.#fileMode !== 0o644) await fchmodFd(fd, 0o644);
    return fd;
  }

  #absolute(relative: string): string {
    return path.join(this.#root!, ...relative.split("/"));
  }
}

/** What a header block says, for error messages ("symbolic link \"x\" → ../y", …). */
function describeHeader(block: Buffer): string {
  if (block.length < TAR_BLOCK_SIZE) return "a truncated header";
  if (block.equals(ZEROS)) return "an end-of-archive block";
  let header: Header;
  try {
    header = new Header(block);
  } catch {
    return "an unreadable header";
  }
  if (!header.cksumValid) return "a header with a bad checksum";
  const parts = [kindOf(header.type)];
  parts.push(JSON.stringify(header.path ?? ""));
  if (header.linkpath) parts.push(`→ ${JSON.stringify(header.linkpath)}`);
  parts.push(`(${header.size ?? 0} bytes, mode ${(header.mode ?? 0).toString(8)})`);
  return parts.join(" ");
}

/** What a tar entry type is, in words. */
function kindOf(type: string | undefined): string {
  const kinds: Record<string, string> = {
    File: "file",
    OldFile: "file",
    Directory: "directory",
    SymbolicLink: "symbolic link",
    Link: "hard link",
    CharacterDevice: "character device",
    BlockDevice: "block device",
    FIFO: "FIFO",
    ExtendedHeader: "pax extended header",
    GlobalExtendedHeader: "pax global header",
    GNUDumpDir: "GNU dump directory",
    NextFileHasLongPath: "GNU long name",
    NextFileHasLongLinkpath: "GNU long link name",
  };
  return kinds[type ?? ""] ?? `entry of type ${JSON.stringify(type ?? "unknown")}`;
}

/**
 * `; its <fields> differ from the canonical header (<field>: expected …, found …; …)` when the
 * header found differs from the expected one in more than its name: both values of each
 * differing field (type, size, mode, owner, times, link, device, magic), so a refusal names
 * what the manifest expected as well as what the archive holds. Empty when the found block is
 * not a header, or when only the name differs (the message names both already).
 */
function headerDifference(expected: Buffer, got: Buffer): string {
  if (got.length < TAR_BLOCK_SIZE || got.equals(ZEROS)) return "";
  let a: Header;
  let b: Header;
  try {
    a = new Header(expected);
    b = new Header(got);
  } catch {
    return "";
  }
  const show: Record<string, (header: Header) => string> = {
    type: (h) => kindOf(h.type),
    size: (h) => `${h.size ?? 0} bytes`,
    mode: (h) => (h.mode ?? 0).toString(8),
    uid: (h) => String(h.uid ?? ""),
    gid: (h) => String(h.gid ?? ""),
    mtime: (h) => (h.mtime === undefined ? "none" : String(h.mtime.getTime() / 1000)),
    uname: (h) => JSON.stringify(h.uname ?? ""),
    gname: (h) => JSON.stringify(h.gname ?? ""),
    linkpath: (h) => JSON.stringify(h.linkpath ?? ""),
    devmaj: (h) => String(h.devmaj ?? ""),
    devmin: (h) => String(h.devmin ?? ""),
  };
  const differing = Object.entries(show)
    .map(([field, value]) => ({ field, expected: value(a), found: value(b) }))
    .filter((d) => d.expected !== d.found);
  const magic = (block: Buffer) => JSON.stringify(block.subarray(257, 265).toString("latin1"));
  if (expected.subarray(257, 265).compare(got.subarray(257, 265)) !== 0) {
    differing.push({ field: "magic", expected: magic(expected), found: magic(got) });
  }
  if (differing.length === 0) {
    // Same fields as far as a header decoder can tell: a difference in bytes it does not read
    // (a checksum, padding, a field's spelling) — unless only the name differed.
    return a.path === b.path ? "; its other header bytes differ from the canonical header" : "";
  }
  const values = differing.map((d) => `${d.field}: expected ${d.expected}, found ${d.found}`);
  return `; its ${differing.map((d) => d.field).join(", ")} differ from the canonical header (${values.join("; ")})`;
}

async function writeAll(fd: number, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    offset += await writeFd(fd, chunk, offset, chunk.length - offset);
  }
}

/** fsync on a directory (or file) by path: makes its names durable. A no-op where unsupported. */
async function fsyncPath(target: string): Promise<void> {
  const fd = await openFd(target, "r");
  try {
    await fsyncFd(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!(process.platform === "win32" && (code === "EPERM" || code === "EISDIR"))) throw error;
  } finally {
    await closeFd(fd);
  }
}

function translateError(error: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted) {
    return CancelledError.isInstance(error)
      ? error
      : new CancelledError("[storage] Extraction cancelled", { cause: signal.reason });
  }
  if (TrainableError.isInstance(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new IntegrityError(
      `[storage] ${what} is damaged: its gzip stream is corrupt or truncated (${(error as Error).message})`,
      { cause: error },
    );
  }
  return error;
}

function invalidOption(field: string, problem: string): ValidationError {
  return new ValidationError(`[storage] Invalid ${field}: ${problem}`, {
    issues: [{ path: field, message: problem }],
  });
}
