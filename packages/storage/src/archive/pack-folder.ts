import { pipeline, Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { CancelledError, IntegrityError, ValidationError } from "@trainable/core";
import { CHUNK_SIZE } from "./chunk-size.js";
import { type ArchiveCompression, DEFAULT_GZIP_LEVEL } from "./default-compression.js";
import type { ExtractLimits } from "./default-extract-limits.js";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { FileReaderWorker } from "./file-reader-worker.js";
import { ManifestWriter } from "./manifest.js";
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
const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);

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

async function* generateTar(
  options: PackFolderOptions,
  settle: { resolve: (r: PackResult) => void; reject: (e: unknown) => void },
): AsyncGenerator<Buffer> {
  const { entries, signal } = options;
  const manifest = new ManifestWriter(options.limits);
  const manifestChunks: Buffer[] = [];
  let manifestPending = "";
  const files: PackedFile[] = [];
  const fileIndexes: number[] = [];
  for (let i = 0; i < entries.length; i++) if (entries[i]!.type === "file") fileIndexes.push(i);
  const reader = new FileReaderWorker({
    paths: fileIndexes.map((i) => entries[i]!.abs),
    smallMax: SMALL_FILE_MAX,
    chunkSize: CHUNK_SIZE,
    batchBytes: BATCH_BYTES,
    creditKiB: READ_AHEAD_KIB,
  });
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let archiveBytes = 0;
  let next = 0; // next entry to emit

  const addToManifest = (entry: Parameters<ManifestWriter["add"]>[0]): void => {
    manifestPending += manifest.add(entry);
    if (manifestPending.length >= 64 * 1024) {
      manifestChunks.push(Buffer.from(manifestPending));
      manifestPending = "";
    }
  };
  const push = (bytes: Buffer): void => {
    batch.push(bytes);
    batchBytes += bytes.length;
  };
  const take = (): Buffer => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
    archiveBytes += batchBytes;
    batch = [];
    batchBytes = 0;
    return out;
  };
  /** Emits the directories that come before entry `upTo` (a file, or the end). */
  const directoriesUpTo = (upTo: number): void => {
    for (; next < upTo; next++) {
      const entry = entries[next]!;
      addToManifest({ type: "directory", path: entry.path });
      push(encodeTarHeader({ path: entry.path, type: "directory" }));
    }
  };
  const fileDone = (index: number, size: number, sha256: string, stamp: string[]): void => {
    const entry = entries[fileIndexes[index]!]!;
    addToManifest({ type: "file", path: entry.path, size, sha256 });
    files.push({ path: entry.path, size, sha256, stamp: toStamp(stamp) });
    next = fileIndexes[index]! + 1;
  };
  const padding = (size: number): number =>
    (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;

  try {
    for (;;) {
      CancelledError.throwIfAborted(signal, "[storage] Packing");
      const message = await reader.next();
      if (message.kind === "error") {
        throw new IntegrityError(
          `[storage] Cannot save ${JSON.stringify(entries[fileIndexes[message.index]!]?.path ?? message.path)}: ${message.reason}; save a checkpoint once its folder is completely written`,
        );
      }
      if (message.kind === "done") break;
      if (message.kind === "batch") {
        const data = Buffer.from(message.data, 0, message.length);
        let offset = 0;
        for (const file of message.files) {
          const position = fileIndexes[file.index]!;
          directoriesUpTo(position);
          push(encodeTarHeader({ path: entries[position]!.path, type: "file", size: file.size }));
          push(data.subarray(offset, offset + file.size));
          offset += file.size;
          const pad = padding(file.size);
          if (pad > 0) push(Buffer.alloc(pad));
          fileDone(file.index, file.size, file.sha256, file.stamp);
        }
        reader.grant(message.data.byteLength);
        yield take();
      } else if (message.kind === "begin") {
        const position = fileIndexes[message.index]!;
        directoriesUpTo(position);
        push(encodeTarHeader({ path: entries[position]!.path, type: "file", size: message.size }));
        yield take();
        let received = 0;
        for (;;) {
          const part = await reader.next();
          if (part.kind !== "chunk") {
            if (part.kind === "end") {
              const pad = padding(message.size);
              if (pad > 0) {
                archiveBytes += pad;
                yield Buffer.alloc(pad);
              }
              fileDone(part.index, message.size, await reader.digest(part.index), part.stamp);
              break;
            }
            if (part.kind === "error") {
              throw new IntegrityError(
                `[storage] Cannot save ${JSON.stringify(entries[position]!.path)}: ${part.reason}; save a checkpoint once its folder is completely written`,
              );
            }
            throw new Error(`[storage] file reader: unexpected ${part.kind} message`);
          }
          CancelledError.throwIfAborted(signal, "[storage] Packing");
          const chunk = reader.copyChunk(part);
          received += chunk.length;
          archiveBytes += chunk.length;
          yield chunk;
        }
        if (received !== message.size) {
          throw new IntegrityError(
            `[storage] Cannot save ${JSON.stringify(entries[position]!.path)}: read ${received} of ${message.size} bytes`,
          );
        }
      }
    }
    directoriesUpTo(entries.length);
    push(END_OF_ARCHIVE);
    yield take();
    if (manifestPending !== "") manifestChunks.push(Buffer.from(manifestPending));
    settle.resolve({
      digest: manifest.digest(),
      manifest: manifestChunks,
      manifestSize: manifest.size,
      fileCount: manifest.fileCount,
      directoryCount: manifest.directoryCount,
      totalBytes: manifest.totalBytes,
      archiveBytes,
      files,
    });
  } catch (error) {
    settle.reject(error);
    throw error;
  } finally {
    await reader.close();
  }
}

function toStamp(stamp: string[]): FileStamp {
  const [dev, ino, size, mtimeNs, ctimeNs] = stamp.map((value) => BigInt(value));
  return { dev: dev!, ino: ino!, size: size!, mtimeNs: mtimeNs!, ctimeNs: ctimeNs! };
}
