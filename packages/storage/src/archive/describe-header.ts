import { Header } from "tar";
import { TAR_BLOCK_SIZE } from "./encode-tar-header.js";

const ZEROS = Buffer.alloc(TAR_BLOCK_SIZE);

/** What a header block says, for error messages ("symbolic link \"x\" → ../y", …). */
export function describeHeader(block: Buffer): string {
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
export function headerDifference(expected: Buffer, got: Buffer): string {
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
