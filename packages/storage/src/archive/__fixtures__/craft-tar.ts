/**
 * Builds tar archives byte by byte, including ones node-tar (or any sane writer) refuses to
 * produce: traversal paths, links, devices, lying sizes, bad checksums. Each header is a raw
 * 512-byte ustar block laid out by hand.
 */

export const BLOCK = 512;
/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export interface RawHeaderInput {
  /** The name field (at most 100 bytes; longer names need `prefix`, a pax or GNU header). */
  name: string | Buffer;
  /** Typeflag character: "0" file, "5" directory, "2" symlink, "x" pax, "L" GNU long name… */
  type?: string;
  /** Declared data size. */
  size?: number;
  /** Raw 12-byte size field, overriding `size`. */
  sizeField?: string;
  mode?: number;
  linkname?: string;
  prefix?: string;
  /** "ustar" (POSIX, default), "gnu" (`ustar  \0`) or "none" (v7). */
  magic?: "ustar" | "gnu" | "none";
  /** Corrupts the checksum when false. */
  validChecksum?: boolean;
}

function rawHeader(input: RawHeaderInput): Buffer {
  const block = Buffer.alloc(BLOCK);
  const name = Buffer.isBuffer(input.name) ? input.name : Buffer.from(input.name, "utf8");
  if (name.length > 100) throw new Error(`name field too long (${name.length} bytes)`);
  name.copy(block, 0);
  writeOctal(block, 100, 8, input.mode ?? 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (input.sizeField !== undefined) block.write(input.sizeField, 124, 12, "latin1");
  else writeOctal(block, 124, 12, input.size ?? 0);
  writeOctal(block, 136, 12, 0);
  block.write(input.type ?? "0", 156, 1, "latin1");
  if (input.linkname !== undefined) block.write(input.linkname, 157, 100, "utf8");
  const magic = input.magic ?? "ustar";
  if (magic === "ustar") block.write("ustar\u000000", 257, 8, "latin1");
  if (magic === "gnu") block.write("ustar  \u0000", 257, 8, "latin1");
  if (input.prefix !== undefined) block.write(input.prefix, 345, 155, "utf8");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (input.validChecksum === false) sum += 1;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "latin1");
}

/** Pads data with zeros to a whole number of blocks. */
function padToBlock(data: Buffer): Buffer {
  const padded = Buffer.alloc(BLOCK * Math.ceil(data.length / BLOCK));
  data.copy(padded);
  return padded;
}

/** A header and its data. */
export function entry(input: RawHeaderInput, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return Buffer.concat([rawHeader({ size: bytes.length, ...input }), padToBlock(bytes)]);
}

/** A regular file entry. */
export function fileEntry(
  name: string,
  data: Buffer | string,
  extra: Partial<RawHeaderInput> = {},
): Buffer {
  return entry({ name, type: "0", ...extra }, data);
}

/** A directory entry (name gets a trailing "/"). */
export function dirEntry(name: string, extra: Partial<RawHeaderInput> = {}): Buffer {
  return rawHeader({
    name: name.endsWith("/") ? name : `${name}/`,
    type: "5",
    mode: 0o755,
    ...extra,
  });
}

/** A pax extended header (`x`) carrying these records, raw: values may hold anything. */
export function paxHeader(records: Array<[string, string]>): Buffer {
  let text = "";
  for (const [key, value] of records) {
    const rest = ` ${key}=${value}\n`;
    const restBytes = Buffer.byteLength(rest);
    let length = restBytes + String(restBytes).length;
    if (String(length).length !== String(restBytes).length)
      length = restBytes + String(length).length;
    text += `${length}${rest}`;
  }
  return entry({ name: "././@PaxHeader", type: "x" }, Buffer.from(text, "utf8"));
}

/** A GNU long-name header (`L`): the next entry's path, NUL-terminated as GNU tar writes it. */
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
