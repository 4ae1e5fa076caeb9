/**
 * The crafted-tar builders of the storage package's own archive tests (raw 512-byte ustar
 * blocks laid out by hand, including what node-tar refuses to write: traversal paths, links,
 * devices, lying sizes, bad checksums), plus a pax header with raw byte values.
 */
import { entry } from "../../../../packages/storage/src/archive/__fixtures__/craft-tar.js";

export * from "../../../../packages/storage/src/archive/__fixtures__/craft-tar.js";

/** A pax header whose record values are raw bytes (to smuggle a NUL into a path). */
export function paxHeaderBytes(records: Array<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const restBytes = Buffer.byteLength(` ${key}=`) + value.length + 1;
    let length = restBytes + String(restBytes).length;
    if (String(length).length !== String(restBytes).length)
      length = restBytes + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`), value, Buffer.from("\n"));
  }
  return entry({ name: "././@PaxHeader", type: "x" }, Buffer.concat(parts));
}
