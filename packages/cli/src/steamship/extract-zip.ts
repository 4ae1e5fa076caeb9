import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import { IntegrityError, type TransferProgress } from "@trainable/core";
import type { ExtractLimits } from "@trainable/storage";
import yauzl from "yauzl";
import { checkZipEntry } from "./check-zip-entry.js";

export interface ExtractZipOptions {
  /** The zip file on disk. */
  zipPath: string;
  /** Its name in messages, e.g. `epoch_3.zip`. */
  zipName: string;
  /** An existing, empty folder to extract into. */
  target: string;
  /** The checkpoint store's limits (entries, total bytes, path length), applied to the zip. */
  limits: ExtractLimits;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

interface ExtractedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ExtractedZip {
  files: ExtractedFile[];
  directories: string[];
}

interface PlannedEntry {
  entry: yauzl.Entry;
  name: string;
  path: string;
  directory: boolean;
}

const UTF8_NAME = 0x800;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function refused(zipName: string, problem: string, cause?: unknown): IntegrityError {
  return new IntegrityError(`[cli] Refused ${zipName}: ${problem}`, { cause });
}

function entryRefused(
  entry: { zip: string; name: string },
  problem: string,
  cause?: unknown,
): IntegrityError {
  return refused(entry.zip, `entry ${JSON.stringify(entry.name)} ${problem}`, cause);
}

/** Decodes an entry name as yauzl would (UTF-8 flag, Info-ZIP Unicode path field, else CP437). */
function entryName(zipName: string, entry: yauzl.Entry): string {
  const name = yauzl.getFileNameLowLevel(
    entry.generalPurposeBitFlag,
    entry.fileNameRaw,
    entry.extraFields,
    true,
  );
  // Control bytes are the same in UTF-8 and in CP437 as Python's `zipfile` decodes it (yauzl
  // shows 0x01-0x1f and 0x7f as CP437 picture glyphs, which would hide them from the checks).
  if (entry.fileNameRaw.some((byte) => byte < 0x20 || byte === 0x7f)) {
    throw entryRefused({ zip: zipName, name }, "has a control character in its name");
  }
  if ((entry.generalPurposeBitFlag & UTF8_NAME) !== 0) {
    try {
      utf8.decode(entry.fileNameRaw);
    } catch {
      throw entryRefused({ zip: zipName, name }, "has a name that is not valid UTF-8");
    }
  }
  return name;
}

/**
 * Reads the central directory and checks every entry before anything is written: names
 * (see `checkZipEntry`), links and other special entries, duplicates (also after Unicode NFC
 * normalization and between a directory and a file of one name), a file used as a folder, the
 * entry count and declared total size against `limits`, and entries whose data overlap (the
 * trick by which a small zip declares far more data than it holds).
 */
async function planExtraction(
  zip: yauzl.ZipFile,
  zipName: string,
  limits: ExtractLimits,
): Promise<{ entries: PlannedEntry[]; totalBytes: number }> {
  if (zip.entryCount > limits.maxEntries) {
    throw refused(
      zipName,
      `it declares ${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`,
    );
  }
  const entries: PlannedEntry[] = [];
  const seen = new Map<string, string>();
  let totalBytes = 0;
  for await (const entry of zip.eachEntry()) {
    const name = entryName(zipName, entry);
    const check = checkZipEntry({ ...entry, name }, limits.maxPathLength);
    if (check.problem !== undefined) throw entryRefused({ zip: zipName, name }, check.problem);
    const key = check.path.normalize("NFC");
    const other = seen.get(key);
    if (other !== undefined) {
      throw entryRefused({ zip: zipName, name }, `duplicates entry ${JSON.stringify(other)}`);
    }
    seen.set(key, name);
    totalBytes += entry.uncompressedSize;
    if (totalBytes > limits.maxTotalBytes) {
      throw entryRefused(
        { zip: zipName, name },
        `brings the declared total to ${totalBytes} bytes, over the limit of ${limits.maxTotalBytes}`,
      );
    }
    entries.push({ entry, name, path: check.path, directory: check.directory });
  }
  for (const planned of entries) {
    const segments = planned.path.normalize("NFC").split("/");
    for (let i = 1; i < segments.length; i++) {
      const parent = seen.get(segments.slice(0, i).join("/"));
      if (parent !== undefined && !parent.endsWith("/")) {
        throw entryRefused(
          { zip: zipName, name: planned.name },
          `needs ${JSON.stringify(parent)} as a folder, but that entry is a file`,
        );
      }
    }
  }
  const byOffset = [...entries].sort(
    (a, b) => a.entry.relativeOffsetOfLocalHeader - b.entry.relativeOffsetOfLocalHeader,
  );
  // An entry's data starts after its local header, whose name and extra field may be longer
  // than the central directory's: read where it really starts.
  let end = 0;
  let previous: PlannedEntry | undefined;
  for (const here of byOffset) {
    if (previous !== undefined && here.entry.relativeOffsetOfLocalHeader < end) {
      throw entryRefused(
        { zip: zipName, name: here.name },
        `overlaps the data of entry ${JSON.stringify(previous.name)} (a zip bomb's trick)`,
      );
    }
    const dataStart = await fileDataStart(zip, here.entry);
    end = Math.max(end, dataStart + here.entry.compressedSize);
    previous = here;
  }
  return { entries, totalBytes };
}

/** Where an entry's data starts: after its local header (name and extra field included). */
function fileDataStart(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<number> {
  return new Promise((resolve, reject) => {
    (
      zip as unknown as {
        readLocalFileHeader(
          entry: yauzl.Entry,
          options: { minimal: true },
          callback: (error: Error | null, header: { fileDataStart: number }) => void,
        ): void;
      }
    ).readLocalFileHeader(entry, { minimal: true }, (error, header) =>
      error ? reject(error) : resolve(header.fileDataStart),
    );
  });
}

/**
 * Extracts a zip into `target`, safely and streaming (one entry at a time, never a whole file
 * in memory). Every entry is checked first (`planExtraction`); then each file's data is
 * inflated with its declared size enforced (yauzl's `validateEntrySizes`: more or fewer bytes
 * than declared fail), its CRC-32 checked and its sha256 computed, and written with an
 * exclusive create. Problems are `IntegrityError`s naming the zip and the entry. On failure
 * the caller removes `target`.
 */
export async function extractZip(options: ExtractZipOptions): Promise<ExtractedZip> {
  const { zipPath, zipName, target, limits, onProgress, signal } = options;
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: false,
      validateEntrySizes: true,
      strictFileNames: true,
    });
  } catch (cause) {
    throw refused(zipName, `not a readable zip archive (${(cause as Error).message})`, cause);
  }
  try {
    let plan: Awaited<ReturnType<typeof planExtraction>>;
    try {
      plan = await planExtraction(zip, zipName, limits);
    } catch (error) {
      if (IntegrityError.isInstance(error)) throw error;
      throw refused(zipName, `bad central directory (${(error as Error).message})`, error);
    }
    const files: ExtractedFile[] = [];
    const directories: string[] = [];
    const made = new Set<string>([target]);
    const makeDir = async (dir: string) => {
      if (made.has(dir)) return;
      await mkdir(dir, { recursive: true });
      made.add(dir);
    };
    let bytes = 0;
    for (const { entry, name, path, directory } of plan.entries) {
      const dest = join(target, path);
      if (directory) {
        await makeDir(dest);
        directories.push(path);
        continue;
      }
      await makeDir(dirname(dest));
      const hash = createHash("sha256");
      let crc = 0;
      let size = 0;
      const check = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          bytes += chunk.length;
          crc = crc32(chunk, crc);
          hash.update(chunk);
          onProgress?.({ phase: "extract", bytes, total: plan.totalBytes });
          callback(null, chunk);
        },
      });
      try {
        const data = await zip.openReadStreamPromise(entry);
        await pipeline(data, check, createWriteStream(dest, { flags: "wx" }), { signal });
      } catch (error) {
        // Disk errors (ENOSPC, EACCES) are the machine's, not the zip's.
        if (error !== null && typeof error === "object" && "syscall" in error) throw error;
        if (signal?.aborted) throw error;
        throw entryRefused(
          { zip: zipName, name },
          `cannot be read (${(error as Error).message})`,
          error,
        );
      }
      if (size !== entry.uncompressedSize) {
        throw entryRefused(
          { zip: zipName, name },
          `holds ${size} bytes but declares ${entry.uncompressedSize}`,
        );
      }
      if (crc >>> 0 !== entry.crc32) {
        throw entryRefused({ zip: zipName, name }, "fails its CRC-32 check (the data is damaged)");
      }
      files.push({ path, size, sha256: hash.digest("hex") });
    }
    return { files, directories };
  } finally {
    zip.close();
  }
}
