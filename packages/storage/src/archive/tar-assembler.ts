import type { ExtractLimits } from "./default-extract-limits.js";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { ManifestWriter } from "./manifest.js";
import type { FileStamp, PackedFile, PackResult } from "./pack-folder.js";
import type { FolderEntry } from "./walk-folder.js";

const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK_SIZE);

/** Zero bytes that pad `size` bytes of file data to a whole tar block. */
export function paddingOf(size: number): number {
  return (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
}

function toStamp(stamp: string[]): FileStamp {
  const [dev, ino, size, mtimeNs, ctimeNs] = stamp.map((value) => BigInt(value));
  return { dev: dev!, ino: ino!, size: size!, mtimeNs: mtimeNs!, ctimeNs: ctimeNs! };
}

/**
 * The bookkeeping of packing a folder: the archive bytes gathered for the next write, the
 * manifest as entries complete, the packed files, and which entry comes next.
 */
export class TarAssembler {
  readonly #entries: readonly FolderEntry[];
  readonly #manifest: ManifestWriter;
  readonly #manifestChunks: Buffer[] = [];
  #manifestPending = "";
  readonly #files: PackedFile[] = [];
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #archiveBytes = 0;
  /** The next entry to emit. */
  #next = 0;
  /** The positions in `entries` of the files, in order. */
  readonly fileIndexes: number[] = [];

  constructor(entries: readonly FolderEntry[], limits: Partial<ExtractLimits> | undefined) {
    this.#entries = entries;
    this.#manifest = new ManifestWriter(limits);
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.type === "file") this.fileIndexes.push(i);
    }
  }

  /** The folder entry of the `index`-th file. */
  fileEntry(index: number): FolderEntry {
    return this.#entries[this.fileIndexes[index]!]!;
  }

  push(bytes: Buffer): void {
    this.#batch.push(bytes);
    this.#batchBytes += bytes.length;
  }

  /** Bytes passed on outside `push`/`take` (a large file's chunks). */
  count(bytes: number): void {
    this.#archiveBytes += bytes;
  }

  /** The gathered bytes, as one buffer. */
  take(): Buffer {
    const out =
      this.#batch.length === 1 ? this.#batch[0]! : Buffer.concat(this.#batch, this.#batchBytes);
    this.#archiveBytes += this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    return out;
  }

  /** Gathers the headers of the directories before the `index`-th file, then its own header. */
  fileHeader(index: number, size: number): void {
    const position = this.fileIndexes[index]!;
    this.#directoriesUpTo(position);
    this.push(encodeTarHeader({ path: this.#entries[position]!.path, type: "file", size }));
  }

  /** Records the `index`-th file as packed. */
  fileDone(index: number, file: { size: number; sha256: string; stamp: string[] }): void {
    const entry = this.fileEntry(index);
    const { size, sha256 } = file;
    this.#addToManifest({ type: "file", path: entry.path, size, sha256 });
    this.#files.push({ path: entry.path, size, sha256, stamp: toStamp(file.stamp) });
    this.#next = this.fileIndexes[index]! + 1;
  }

  /** Gathers the remaining directories and the end of the archive; returns the result. */
  finish(): PackResult {
    this.#directoriesUpTo(this.#entries.length);
    this.push(END_OF_ARCHIVE);
    const manifest = this.#manifest;
    if (this.#manifestPending !== "") this.#manifestChunks.push(Buffer.from(this.#manifestPending));
    return {
      digest: manifest.digest(),
      manifest: this.#manifestChunks,
      manifestSize: manifest.size,
      fileCount: manifest.fileCount,
      directoryCount: manifest.directoryCount,
      totalBytes: manifest.totalBytes,
      // With the bytes of the end blocks, still to be taken.
      archiveBytes: this.#archiveBytes + this.#batchBytes,
      files: this.#files,
    };
  }

  #addToManifest(entry: Parameters<ManifestWriter["add"]>[0]): void {
    this.#manifestPending += this.#manifest.add(entry);
    if (this.#manifestPending.length >= 64 * 1024) {
      this.#manifestChunks.push(Buffer.from(this.#manifestPending));
      this.#manifestPending = "";
    }
  }

  #directoriesUpTo(upTo: number): void {
    for (; this.#next < upTo; this.#next++) {
      const entry = this.#entries[this.#next]!;
      this.#addToManifest({ type: "directory", path: entry.path });
      this.push(encodeTarHeader({ path: entry.path, type: "directory" }));
    }
  }
}
