import { chmod, lstat, mkdtemp, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import {
  CancelledError,
  ConflictError,
  IntegrityError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { exists } from "@trainable/internal-node";
import { ByteReader } from "./byte-reader.js";
import type { ArchiveCompression } from "./default-compression.js";
import { describeHeader } from "./describe-header.js";
import { TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { fsyncPath } from "./fd-io.js";
import { FolderWriter } from "./folder-writer.js";
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

const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);

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
