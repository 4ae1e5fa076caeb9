import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { CancelledError, IntegrityError, ValidationError } from "@trainable/core";
import { CHUNK_SIZE } from "./chunk-size.js";
import { type ArchiveCompression, DEFAULT_GZIP_LEVEL } from "./default-compression.js";
import type { ExtractLimits } from "./default-extract-limits.js";
import { FileReaderWorker, type ReaderMessage } from "./file-reader-worker.js";
import { paddingOf, TarAssembler } from "./tar-assembler.js";
import type { FolderEntry } from "./walk-folder.js";

/** How a file looked when it was read: what a later save compares to trust its hash. */
export interface FileStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface PackedFile {
  path: string;
  size: number;
  sha256: string;
  stamp: FileStamp;
}

export interface PackResult {
  /** `sha256:` + hex of the canonical manifest. */
  digest: string;
  /** The canonical manifest bytes (in chunks). */
  manifest: Buffer[];
  manifestSize: number;
  fileCount: number;
  directoryCount: number;
  totalBytes: number;
  /** Bytes of the archive stream (before compression). */
  archiveBytes: number;
  files: PackedFile[];
}

export interface PackFolderOptions {
  /** What `walkFolder` returned: exactly these entries are archived, in this (sorted) order. */
  entries: readonly FolderEntry[];
  compression: ArchiveCompression;
  /** 1–9, only with gzip; default 1 (fastest). */
  gzipLevel?: number;
  /** The same limits a load enforces (entries, bytes, path length). */
  limits?: Partial<ExtractLimits>;
  signal?: AbortSignal;
}

/** Files up to this size are read whole and handed over in batches; larger ones stream. */
export const SMALL_FILE_MAX = 256 * 1024;
/** File data gathered before it is passed on (fewer, larger writes downstream). */
const BATCH_BYTES = CHUNK_SIZE;
/** File data read ahead of the consumer, at most. */
const READ_AHEAD_KIB = 8 * 1024;

/**
 * Streams the deterministic tar of a folder in one pass: each file is read once, on a worker
 * thread that hashes it as it reads (so the second core reads and hashes while this one writes),
 * and its bytes go straight into the archive. The manifest (and so the digest) is complete when
 * the stream ends: `result` resolves then.
 *
 * The archive is the canonical tar of the manifest: entries in UTF-8 byte order of their paths,
 * every header field fixed (see `encodeTarHeader`), then two zero blocks. Its bytes depend only
 * on the manifest, which is what lets a load verify every byte (docs/architecture.md).
 *
 * The stream fails with an `IntegrityError` when a file disappears, stops being a regular file
 * or changes while it is read; with a `CancelledError` when `signal` aborts.
 */
export function packFolder(options: PackFolderOptions): {
  stream: Readable;
  result: Promise<PackResult>;
} {
  const { compression, signal } = options;
  if (compression !== "none" && compression !== "gzip") {
    throw new ValidationError(
      `[storage] Invalid compression: must be "none" or "gzip", got ${JSON.stringify(compression)}`,
      { issues: [{ path: "compression", message: 'must be "none" or "gzip"' }] },
    );
  }
  const gzipLevel = options.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  CancelledError.throwIfAborted(signal, "[storage] Packing");
  let settle!: { resolve: (r: PackResult) => void; reject: (e: unknown) => void };
  const result = new Promise<PackResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  result.catch(() => {});
  const tar = Readable.from(generateTar(options, settle), {
    objectMode: false,
    highWaterMark: CHUNK_SIZE,
  });
  const stream =
    compression === "gzip"
      ? pipeline(tar, createGzip({ level: gzipLevel, chunkSize: 64 * 1024 }), () => {})
      : tar;
  if (signal !== undefined) {
    const onAbort = (): void => {
      stream.destroy(new CancelledError("[storage] Packing cancelled", { cause: signal.reason }));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    stream.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  stream.once("close", () => settle.reject(new CancelledError("[storage] Packing stopped")));
  return { stream, result };
}

/** The refusal of a file that changed or vanished while it was read. */
function unreadable(path: string, reason: string): IntegrityError {
  return new IntegrityError(
    `[storage] Cannot save ${JSON.stringify(path)}: ${reason}; save a checkpoint once its folder is completely written`,
  );
}

/** Streams one large file's data as the reader hands it over, then its padding. */
async function* largeFile(
  reader: FileReaderWorker,
  tar: TarAssembler,
  begin: { index: number; size: number },
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  const { path } = tar.fileEntry(begin.index);
  let received = 0;
  for (;;) {
    const part = await reader.next();
    if (part.kind === "end") {
      const pad = paddingOf(begin.size);
      if (pad > 0) {
        tar.count(pad);
        yield Buffer.alloc(pad);
      }
      const sha256 = await reader.digest(part.index);
      tar.fileDone(part.index, { size: begin.size, sha256, stamp: part.stamp });
      break;
    }
    if (part.kind === "error") throw unreadable(path, part.reason);
    if (part.kind !== "chunk")
      throw new Error(`[storage] file reader: unexpected ${part.kind} message`);
    CancelledError.throwIfAborted(signal, "[storage] Packing");
    const chunk = reader.copyChunk(part);
    received += chunk.length;
    tar.count(chunk.length);
    yield chunk;
  }
  if (received !== begin.size) {
    throw new IntegrityError(
      `[storage] Cannot save ${JSON.stringify(path)}: read ${received} of ${begin.size} bytes`,
    );
  }
}

/** A batch of small files: each one's header, data and padding. */
function smallFiles(tar: TarAssembler, message: Extract<ReaderMessage, { kind: "batch" }>): void {
  const data = Buffer.from(message.data, 0, message.length);
  let offset = 0;
  for (const file of message.files) {
    tar.fileHeader(file.index, file.size);
    tar.push(data.subarray(offset, offset + file.size));
    offset += file.size;
    const pad = paddingOf(file.size);
    if (pad > 0) tar.push(Buffer.alloc(pad));
    tar.fileDone(file.index, file);
  }
}

async function* generateTar(
  options: PackFolderOptions,
  settle: { resolve: (r: PackResult) => void; reject: (e: unknown) => void },
): AsyncGenerator<Buffer> {
  const { entries, signal } = options;
  const tar = new TarAssembler(entries, options.limits);
  const reader = new FileReaderWorker({
    paths: tar.fileIndexes.map((i) => entries[i]!.abs),
    smallMax: SMALL_FILE_MAX,
    chunkSize: CHUNK_SIZE,
    batchBytes: BATCH_BYTES,
    creditKiB: READ_AHEAD_KIB,
  });
  try {
    for (;;) {
      CancelledError.throwIfAborted(signal, "[storage] Packing");
      const message = await reader.next();
      if (message.kind === "error") {
        throw unreadable(
          entries[tar.fileIndexes[message.index]!]?.path ?? message.path,
          message.reason,
        );
      }
      if (message.kind === "done") break;
      if (message.kind === "batch") {
        smallFiles(tar, message);
        reader.grant(message.data.byteLength);
        yield tar.take();
      } else if (message.kind === "begin") {
        tar.fileHeader(message.index, message.size);
        yield tar.take();
        yield* largeFile(reader, tar, message, signal);
      }
    }
    const result = tar.finish();
    yield tar.take();
    settle.resolve(result);
  } catch (error) {
    settle.reject(error);
    throw error;
  } finally {
    await reader.close();
  }
}
