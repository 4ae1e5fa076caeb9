import { IntegrityError } from "@trainable/core";
import { Header } from "tar";
import { ByteReader } from "./byte-reader.js";
import { TAR_BLOCK_SIZE } from "./encode-tar-header.js";

/** One regular file or directory of an archive, as `readTarEntries` yields it. */
export interface TarEntry {
  type: "file" | "directory";
  /**
   * The path exactly as the archive gives it (pax `path` record, GNU long name, or ustar
   * prefix + name), not yet checked. Directories may end with `/`.
   */
  path: string;
  /** Data bytes; 0 for directories. */
  size: number;
  /**
   * Streams exactly `size` bytes, or fails with an `IntegrityError` if the archive is truncated.
   * Call at most once, before asking for the next entry; unread data is skipped.
   */
  body(): AsyncGenerator<Buffer, void, undefined>;
}

export interface ReadTarEntriesOptions {
  /** The uncompressed tar bytes. */
  source: AsyncIterable<unknown>;
  /** Largest pax (`x`) or GNU long-name (`L`) body accepted, in bytes. */
  maxMetaBytes: number;
  /** Zero bytes accepted after the end-of-archive marker (default 1 MiB). */
  maxTrailingBytes?: number;
}

interface PendingMeta {
  path?: string;
  size?: number;
  linkpath?: boolean;
  sparse?: boolean;
}

const ZERO_BLOCK = Buffer.alloc(TAR_BLOCK_SIZE);
const utf8 = new TextDecoder("utf-8", { fatal: true });
const USTAR_MAGIC = "ustar\u000000";

/** Friendly names of the entry types we refuse, by typeflag. */
const TYPE_NAMES: Record<string, string> = {
  "1": "a hard link",
  "2": "a symbolic link",
  "3": "a character device",
  "4": "a block device",
  "6": "a FIFO",
  "7": "a contiguous file",
  g: "a global extended header",
  K: "a GNU long link name",
  N: "an old GNU long name",
  X: "an old extended header",
  D: "a GNU dump directory",
  M: "a multi-volume continuation",
  S: "a GNU sparse file",
  V: "a tape volume header",
  A: "a Solaris ACL",
  I: "an inode-only entry",
};

/**
 * A strict streaming tar reader: yields regular files and directories one at a time, with
 * their data as a stream pulled from `source` (bounded memory; nothing is read ahead beyond
 * one source chunk). Format decoding of each 512-byte header (octal and base-256 numbers,
 * ustar prefix, checksum) is node-tar's `Header`; pax (`x`) records and GNU long names (`L`)
 * are parsed here, strictly, so that:
 * - a pax `path` replaces the whole ustar name (prefix included), as POSIX says;
 * - a long name is decoded from all its bytes at once (never split across chunks), as UTF-8
 *   that must be valid; a NUL inside it is kept so the caller can refuse it;
 * - every entry type other than regular file (`0`, NUL) and directory (`5`) is refused with an
 *   `IntegrityError` naming the path: links, devices, FIFOs, sparse files, global headers,
 *   unknown types — nothing is silently skipped;
 * - a bad checksum, a malformed pax record, a truncated body, a missing end-of-archive marker
 *   (two zero blocks) or non-zero data after it are an `IntegrityError` too.
 * The source is read to its end (so a gzip trailer gets checked), at most `maxTrailingBytes`
 * of zero padding past the marker.
 */
export async function* readTarEntries(
  options: ReadTarEntriesOptions,
): AsyncGenerator<TarEntry, void, undefined> {
  const maxTrailingBytes = options.maxTrailingBytes ?? 1024 * 1024;
  const reader = new ByteReader(options.source);
  try {
    let meta: PendingMeta = {};
    let metaHeaders = 0;
    for (;;) {
      const offset = reader.position;
      const block = await reader.read(TAR_BLOCK_SIZE);
      if (block.length < TAR_BLOCK_SIZE) {
        throw corrupt(
          `archive is truncated: it ends at byte ${reader.position} without an end-of-archive marker`,
        );
      }
      if (block.equals(ZERO_BLOCK)) {
        if (metaHeaders > 0) {
          throw corrupt(`an extended header before byte ${offset} is not followed by an entry`);
        }
        const second = await reader.read(TAR_BLOCK_SIZE);
        if (second.length < TAR_BLOCK_SIZE) {
          throw corrupt(`archive is truncated: it ends inside the end-of-archive marker`);
        }
        if (!second.equals(ZERO_BLOCK)) {
          throw corrupt(`a lone zero block at byte ${offset} is followed by more data`);
        }
        await drainTrailer(reader, maxTrailingBytes);
        return;
      }

      const header = decodeHeader(block, offset);
      const typeflag = block[156] === 0 ? "0" : String.fromCharCode(block[156]!);
      if (typeflag === "x" || typeflag === "L") {
        metaHeaders += 1;
        if (metaHeaders > 2) {
          throw corrupt(`more than two extended headers in a row at byte ${offset}`);
        }
        const body = await readMetaBody({ reader, header, offset, max: options.maxMetaBytes });
        if (typeflag === "x") applyPaxRecords(meta, body, offset);
        else meta.path = decodeLongName(body, offset);
        continue;
      }

      const entryPath = meta.path ?? ustarPath(header, block, offset);
      if (typeflag !== "0" && typeflag !== "5") {
        const kind = TYPE_NAMES[typeflag] ?? `an entry of unknown type ${JSON.stringify(typeflag)}`;
        throw refused(entryPath, `it is ${kind}; only regular files and directories are allowed`);
      }
      if (meta.sparse) throw refused(entryPath, "it is a GNU sparse file");
      if (meta.linkpath || (header.linkpath ?? "") !== "") {
        throw refused(entryPath, "it carries a link target but is not a link");
      }
      let size: number;
      if (typeflag === "5") {
        // node-tar reports 0 for directories whatever the field says; a directory that claims
        // data would desynchronize readers that skip it, so it is refused instead.
        if (!sizeFieldIsZero(block) || (meta.size ?? 0) !== 0) {
          throw refused(entryPath, "it is a directory entry that claims to carry data");
        }
        size = 0;
      } else {
        const declared = meta.size ?? header.size;
        if (declared === undefined || !Number.isSafeInteger(declared) || declared < 0) {
          throw corrupt(`invalid size field in the header at byte ${offset}`);
        }
        size = declared;
      }
      meta = {};
      metaHeaders = 0;

      let remaining = size;
      let started = false;
      const body = async function* (): AsyncGenerator<Buffer, void, undefined> {
        if (started) throw new Error("TarEntry.body() can be read only once");
        started = true;
        for await (const part of reader.stream(remaining)) {
          remaining -= part.length;
          yield part;
        }
        if (remaining > 0) throw truncatedEntry(entryPath, size, size - remaining);
      };
      yield { type: typeflag === "5" ? "directory" : "file", path: entryPath, size, body };
      const toSkip = remaining + padding(size);
      if ((await reader.skip(toSkip)) < toSkip) {
        throw truncatedEntry(entryPath, size, size - remaining);
      }
    }
  } finally {
    await reader.close();
  }
}

function decodeHeader(block: Buffer, offset: number): Header {
  let header: Header;
  try {
    header = new Header(block);
  } catch (error) {
    throw corrupt(
      `unreadable header at byte ${offset}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  if (!header.cksumValid) {
    throw corrupt(`header checksum mismatch at byte ${offset} (not a tar archive, or damaged)`);
  }
  return header;
}

/** The ustar name (with its prefix), after checking both fields are valid UTF-8. */
function ustarPath(header: Header, block: Buffer, offset: number): string {
  const fields = [block.subarray(0, 100)];
  if (block.subarray(257, 265).toString("latin1") === USTAR_MAGIC) {
    fields.push(block.subarray(345, 500));
  }
  for (const field of fields) {
    const end = field.indexOf(0);
    try {
      utf8.decode(end === -1 ? field : field.subarray(0, end));
    } catch {
      throw corrupt(`the entry name in the header at byte ${offset} is not valid UTF-8`);
    }
  }
  return header.path ?? "";
}

async function readMetaBody(options: {
  reader: ByteReader;
  header: Header;
  offset: number;
  max: number;
}): Promise<Buffer> {
  const { reader, header, offset, max } = options;
  const size = header.size;
  if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
    throw corrupt(`invalid size field in the extended header at byte ${offset}`);
  }
  if (size > max) {
    throw corrupt(
      `the extended header at byte ${offset} is ${size} bytes, more than the ${max} allowed (is a path longer than maxPathLength?)`,
    );
  }
  const body = await reader.read(size);
  const pad = padding(size);
  if (body.length < size || (await reader.skip(pad)) < pad) {
    throw corrupt(`archive is truncated inside the extended header at byte ${offset}`);
  }
  return body;
}

/** Parses `"<len> <key>=<value>\n"` records strictly and keeps what matters for extraction. */
function applyPaxRecords(meta: PendingMeta, body: Buffer, offset: number): void {
  let position = 0;
  while (position < body.length) {
    const space = body.indexOf(0x20, position);
    const lengthText = space === -1 ? "" : body.toString("latin1", position, space);
    if (!/^[1-9][0-9]{0,15}$/.test(lengthText)) {
      throw corrupt(`malformed pax record in the extended header at byte ${offset}`);
    }
    const end = position + Number(lengthText);
    if (end > body.length || end <= space + 1 || body[end - 1] !== 0x0a) {
      throw corrupt(`malformed pax record in the extended header at byte ${offset}`);
    }
    let record: string;
    try {
      record = utf8.decode(body.subarray(space + 1, end - 1));
    } catch {
      throw corrupt(`a pax record in the extended header at byte ${offset} is not valid UTF-8`);
    }
    const equals = record.indexOf("=");
    if (equals <= 0) {
      throw corrupt(`malformed pax record in the extended header at byte ${offset}`);
    }
    const key = record.slice(0, equals);
    const value = record.slice(equals + 1);
    if (key === "path") {
      meta.path = value;
    } else if (key === "size") {
      const size = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(size)) {
        throw corrupt(`invalid pax size ${JSON.stringify(value)} at byte ${offset}`);
      }
      meta.size = size;
    } else if (key === "linkpath") {
      meta.linkpath = true;
    } else if (key.startsWith("GNU.sparse.")) {
      meta.sparse = true;
    } else if (key === "hdrcharset" && value !== "ISO-IR 10646 2000 UTF-8") {
      throw corrupt(`unsupported pax hdrcharset ${JSON.stringify(value)} at byte ${offset}`);
    }
    // mtime, atime, ctime, uid, gid, uname, gname, comment, SCHILY.* …: not used.
    position = end;
  }
}

/** A GNU `L` body is the name followed by NUL padding. */
function decodeLongName(body: Buffer, offset: number): string {
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end--;
  try {
    return utf8.decode(body.subarray(0, end));
  } catch {
    throw corrupt(`the GNU long name at byte ${offset} is not valid UTF-8`);
  }
}

function sizeFieldIsZero(block: Buffer): boolean {
  for (let i = 124; i < 136; i++) {
    const byte = block[i];
    if (byte !== 0 && byte !== 0x20 && byte !== 0x30) return false;
  }
  return true;
}

async function drainTrailer(reader: ByteReader, max: number): Promise<void> {
  let seen = 0;
  for await (const part of reader.stream(max + 1)) {
    for (const byte of part) {
      if (byte !== 0) {
        throw corrupt(`unexpected data after the end-of-archive marker (byte ${reader.position})`);
      }
    }
    seen += part.length;
  }
  if (seen > max) {
    throw corrupt(`more than ${max} bytes of padding after the end-of-archive marker`);
  }
}

function padding(size: number): number {
  return (TAR_BLOCK_SIZE - (size % TAR_BLOCK_SIZE)) % TAR_BLOCK_SIZE;
}

function corrupt(problem: string, cause?: unknown): IntegrityError {
  return new IntegrityError(`[storage] [archive] Corrupt archive: ${problem}`, { cause });
}

function refused(entryPath: string, reason: string): IntegrityError {
  return new IntegrityError(
    `[storage] [archive] Refused archive entry ${JSON.stringify(entryPath)}: ${reason}`,
  );
}

function truncatedEntry(entryPath: string, size: number, got: number): IntegrityError {
  return new IntegrityError(
    `[storage] [archive] Corrupt archive: archive is truncated inside entry ${JSON.stringify(entryPath)} (header declares ${size} bytes, only ${got} present)`,
  );
}
