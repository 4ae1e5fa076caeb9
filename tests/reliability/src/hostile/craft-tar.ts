/**
 * Tar building blocks for hostile archives.
 *
 * - `rawHeader`, `fileEntry`, `paxHeader(Bytes)`, `gnuLongName`,
 *   `craftTar`: raw 512-byte ustar blocks laid out by hand, including what no sane writer
 *   produces (traversal paths, links, devices, lying sizes, bad checksums, raw NULs).
 * - `canonicalTar`: the exact archive and manifest the store itself writes for a list of
 *   entries (via the store's exported `packFolder`, fed synthetic folder entries), so a hostile
 *   archive can start with byte-exact benign entries and deviate only where the attack is.
 * - `canonicalHeader`: the canonical header of one entry, encoded here (for entries too big
 *   to pack, such as a 2 GiB file); `checkCanonicalHeader` compares it with `packFolder`.
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type FolderEntry,
  type ManifestEntry,
  manifestLine,
  packFolder,
} from "@trainable/storage/archive";

export const BLOCK = 512;
/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export interface RawHeaderInput {
  /** The name field (at most 100 bytes). */
  name: string | Buffer;
  /** Typeflag: "0" file, "5" directory, "2" symlink, "1" hard link, "x" pax, "L" GNU long name… */
  type?: string;
  size?: number;
  mode?: number;
  linkname?: string;
  /** "ustar" (POSIX, default) or "gnu" (`ustar  \0`). */
  magic?: "ustar" | "gnu";
}

/** Writes `value` in octal into the header field at `offset`, `length` bytes, NUL-ended. */
function writeOctal(block: Buffer, field: { offset: number; length: number }, value: number): void {
  const { offset, length } = field;
  block.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "latin1");
}

function checksum(block: Buffer): string {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  return sum.toString(8);
}

export function rawHeader(input: RawHeaderInput): Buffer {
  const block = Buffer.alloc(BLOCK);
  const name = Buffer.isBuffer(input.name) ? input.name : Buffer.from(input.name, "utf8");
  if (name.length > 100) throw new Error(`name field too long (${name.length} bytes)`);
  name.copy(block, 0);
  writeOctal(block, { offset: 100, length: 8 }, input.mode ?? 0o644);
  writeOctal(block, { offset: 108, length: 8 }, 0);
  writeOctal(block, { offset: 116, length: 8 }, 0);
  writeOctal(block, { offset: 124, length: 12 }, input.size ?? 0);
  writeOctal(block, { offset: 136, length: 12 }, 0);
  block.write(input.type ?? "0", 156, 1, "latin1");
  if (input.linkname !== undefined) block.write(input.linkname, 157, 100, "utf8");
  block.write(
    (input.magic ?? "ustar") === "gnu" ? "ustar  \u0000" : "ustar\u000000",
    257,
    8,
    "latin1",
  );
  block.write(`${checksum(block).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return block;
}

/** Pads data with zeros to a whole number of blocks. */
export function padToBlock(data: Buffer): Buffer {
  const padded = Buffer.alloc(BLOCK * Math.ceil(data.length / BLOCK));
  data.copy(padded);
  return padded;
}

/** A header and its data. */
function entry(input: RawHeaderInput, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return Buffer.concat([rawHeader({ size: bytes.length, ...input }), padToBlock(bytes)]);
}

export function fileEntry(
  name: string,
  data: Buffer | string,
  extra: Partial<RawHeaderInput> = {},
) {
  return entry({ name, type: "0", ...extra }, data);
}

function paxRecords(records: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const restBytes = Buffer.byteLength(` ${key}=`) + value.length + 1;
    let length = restBytes + String(restBytes).length;
    if (String(length).length !== String(restBytes).length)
      length = restBytes + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`), value, Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}

/** A pax extended header (`x`) carrying these records. */
export function paxHeader(records: Array<[string, string]>): Buffer {
  return paxHeaderBytes(records.map(([k, v]) => [k, Buffer.from(v, "utf8")]));
}

/** A pax header whose record values are raw bytes (to smuggle a NUL into a path). */
export function paxHeaderBytes(records: Array<[string, Buffer]>): Buffer {
  return entry({ name: "././@PaxHeader", type: "x" }, paxRecords(records));
}

/** A GNU long-name header (`L`): the next entry's path, NUL-terminated. */
export function gnuLongName(name: string | Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.isBuffer(name) ? name : Buffer.from(name, "utf8"),
    Buffer.alloc(1),
  ]);
  return entry({ name: "././@LongLink", type: "L", magic: "gnu" }, body);
}

/** Concatenates parts and appends the end-of-archive marker. */
export function craftTar(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, END_OF_ARCHIVE]);
}

// ---------------------------------------------------------------------------------------------
// Canonical archives (what the store writes)

export type CanonicalInput =
  | { type: "file"; path: string; data: Buffer }
  | { type: "directory"; path: string };

const byPath = (a: { path: string }, b: { path: string }) =>
  Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));

/**
 * The canonical archive (uncompressed, with its end-of-archive marker) and manifest of these
 * entries, as the store's `packFolder` makes them. File data is written under `scratch`
 * first; paths need not exist on disk (a 300-byte segment is fine).
 */
export async function canonicalTar(
  scratch: string,
  inputs: readonly CanonicalInput[],
): Promise<{ archive: Buffer; manifest: ManifestEntry[]; manifestBytes: Buffer }> {
  const entries: FolderEntry[] = [];
  for (const input of [...inputs].sort(byPath)) {
    if (input.type === "directory") {
      entries.push({ type: "directory", path: input.path, abs: scratch });
    } else {
      const abs = join(scratch, `canonical-${randomBytes(6).toString("hex")}`);
      await writeFile(abs, input.data);
      entries.push({ type: "file", path: input.path, abs });
    }
  }
  const { stream, result } = packFolder({ entries, compression: "none" });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const packed = await result;
  const manifestBytes = Buffer.concat(packed.manifest);
  return {
    archive: Buffer.concat(chunks),
    manifest: manifestEntriesOf(manifestBytes),
    manifestBytes,
  };
}

/** The canonical archive without its end-of-archive marker (to append hostile entries to). */
export function withoutEnd(archive: Buffer): Buffer {
  if (!archive.subarray(archive.length - END_OF_ARCHIVE.length).equals(END_OF_ARCHIVE)) {
    throw new Error("not a tar ending with its end-of-archive marker");
  }
  return archive.subarray(0, archive.length - END_OF_ARCHIVE.length);
}

/** Parses canonical manifest lines (trusted: the store wrote them). */
export function manifestEntriesOf(bytes: Buffer): ManifestEntry[] {
  return bytes
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const json = JSON.parse(line);
      return typeof json.dir === "string"
        ? { type: "directory" as const, path: json.dir }
        : { type: "file" as const, path: json.path, size: json.size, sha256: json.sha256 };
    });
}

/** Manifest bytes of any entries, unchecked (hostile paths welcome), in byte order of paths. */
export function rawManifest(entries: readonly ManifestEntry[]): Buffer {
  return Buffer.from([...entries].sort(byPath).map(manifestLine).join(""));
}

/** node-tar's octal field: digits padded with "0", then " \0" — or just "\0" when it is full. */
function octalField(value: number, size: number): string {
  const digits = value.toString(8);
  return digits.length === size - 1
    ? `${digits}\u0000`
    : `${digits.padStart(size - 2, "0")} \u0000`;
}

/**
 * The canonical header block of a file or directory whose path (a directory's with its "/")
 * fits the 100-byte ustar name field in ASCII: mode 0644/0755, uid/gid 0, mtime 0, empty
 * uname/gname, devmajor/devminor 0, ustar magic — what the store's encoder writes.
 */
export function canonicalHeader(path: string, type: "file" | "directory", size = 0): Buffer {
  const name = type === "directory" ? `${path}/` : path;
  if (Buffer.byteLength(name) > 100 || !/^[\x20-\x7e]+$/.test(name)) {
    throw new Error(`canonicalHeader: ${JSON.stringify(name)} needs a pax header`);
  }
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write(octalField(type === "directory" ? 0o755 : 0o644, 8), 100, 8, "ascii");
  block.write(octalField(0, 8), 108, 8, "ascii");
  block.write(octalField(0, 8), 116, 8, "ascii");
  block.write(octalField(type === "directory" ? 0 : size, 12), 124, 12, "ascii");
  block.write(octalField(0, 12), 136, 12, "ascii");
  block.write(type === "directory" ? "5" : "0", 156, 1, "ascii");
  block.write("ustar\u000000", 257, 8, "ascii");
  block.write(octalField(0, 8), 329, 8, "ascii"); // devmajor
  block.write(octalField(0, 8), 337, 8, "ascii"); // devminor
  block.write(octalField(Number.parseInt(checksum(block), 8), 8), 148, 8, "ascii");
  return block;
}

/** Rewrites the mode field of the header at `offset` (checksum updated): a non-canonical header. */
export function withMode(archive: Buffer, offset: number, mode: number): Buffer {
  const out = Buffer.from(archive);
  const block = out.subarray(offset, offset + BLOCK);
  block.write(octalField(mode, 8), 100, 8, "ascii");
  block.write(octalField(Number.parseInt(checksum(block), 8), 8), 148, 8, "ascii");
  return out;
}

/** Throws unless `canonicalHeader` agrees byte for byte with the store's own archives. */
export async function checkCanonicalHeader(scratch: string): Promise<void> {
  const data = Buffer.from("x".repeat(1000));
  const { archive } = await canonicalTar(scratch, [
    { type: "directory", path: "bin" },
    { type: "file", path: "bin/tool", data },
  ]);
  const expected = Buffer.concat([
    canonicalHeader("bin", "directory"),
    canonicalHeader("bin/tool", "file", data.length),
  ]);
  if (!archive.subarray(0, 512).equals(expected.subarray(0, 512))) {
    throw new Error("canonicalHeader differs from the store's directory header");
  }
  if (!archive.subarray(512, 1024).equals(expected.subarray(512, 1024))) {
    throw new Error("canonicalHeader differs from the store's file header");
  }
}
