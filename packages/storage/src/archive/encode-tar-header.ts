import { Header } from "tar";

export const TAR_BLOCK_SIZE = 512;
const EPOCH = new Date(0);
/** Largest size the 12-byte octal field holds; bigger sizes also get a pax `size` record. */
const MAX_OCTAL_SIZE = 0o77777777777;
const PAX_HEADER_NAME = "././@PaxHeader";

export interface TarHeaderInput {
  /** Relative POSIX path, without a trailing `/` (added here for directories). */
  path: string;
  type: "file" | "directory";
  /** File size in bytes; ignored (0) for directories. */
  size?: number;
}

/**
 * Encodes the header block(s) of one entry with every variable field fixed, so the bytes depend
 * only on the path, type and size: mode 0644 (files) / 0755 (directories), uid/gid 0, empty
 * uname/gname, mtime 0 (1970-01-01), no atime/ctime, ustar magic. node-tar's `Header` does the
 * field encoding (octal, base-256 for huge sizes, ustar name/prefix split, checksum). When the
 * path does not fit ustar (over 100/155 bytes or non-ASCII) a pax extended header (`x`) with a
 * `path` record (and `size` when over 8 GiB) comes first; its own header is fixed as well.
 */
export function encodeTarHeader(input: TarHeaderInput): Buffer {
  const isDirectory = input.type === "directory";
  const name = isDirectory ? `${input.path}/` : input.path;
  const size = isDirectory ? 0 : (input.size ?? 0);
  const header = new Header({
    path: name,
    type: isDirectory ? "Directory" : "File",
    mode: isDirectory ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: EPOCH,
    uname: "",
    gname: "",
  });
  const needPax = header.encode();
  const block = header.block!;
  // node-tar splits paths of 100+ bytes into ustar prefix/name at a "/"; for some (e.g. a
  // 99-byte directory name plus its "/") that yields a prefix "." that reads back as "./name",
  // which extraction rightly refuses. Use the ustar fields only when they read back exactly
  // (a short ASCII name is stored as is: no need to decode it again).
  if (!needPax && (/^[\x20-\x7e]{1,100}$/.test(name) || new Header(block).path === name)) {
    return block;
  }

  const records: Array<[string, string]> = [["path", name]];
  if (size > MAX_OCTAL_SIZE) records.push(["size", String(size)]);
  const body = encodePaxRecords(records);
  const paxHeader = new Header({
    path: PAX_HEADER_NAME,
    type: "ExtendedHeader",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: EPOCH,
    uname: "",
    gname: "",
  });
  paxHeader.encode();
  const padded = Buffer.alloc(TAR_BLOCK_SIZE * Math.ceil(body.length / TAR_BLOCK_SIZE));
  body.copy(padded);
  return Buffer.concat([paxHeader.block!, padded, block]);
}

/** `"<len> <key>=<value>\n"` records, where `<len>` counts the whole record including itself. */
function encodePaxRecords(records: Array<[string, string]>): Buffer {
  let text = "";
  for (const [key, value] of records) {
    const rest = ` ${key}=${value}\n`;
    const restBytes = Buffer.byteLength(rest);
    let length = restBytes + String(restBytes).length;
    if (String(length).length !== String(restBytes).length) {
      length = restBytes + String(length).length;
    }
    text += `${length}${rest}`;
  }
  return Buffer.from(text, "utf8");
}
