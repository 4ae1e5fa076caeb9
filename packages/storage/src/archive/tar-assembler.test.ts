import { createHash } from "node:crypto";
import { manifestDigest } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { encodeTarHeader, TAR_BLOCK_SIZE } from "./encode-tar-header.js";
import { paddingOf, TarAssembler } from "./tar-assembler.js";
import type { FolderEntry } from "./walk-folder.js";

const entries: FolderEntry[] = [
  { type: "directory", path: "a", abs: "/x/a" },
  { type: "file", path: "a/f", abs: "/x/a/f" },
  { type: "directory", path: "b", abs: "/x/b" },
  { type: "directory", path: "c", abs: "/x/c" },
];
const stamp = ["1", "2", "3", "4", "5"];

describe("TarAssembler", () => {
  it("pads file data to whole blocks", () => {
    expect([0, 1, 511, 512, 513].map(paddingOf)).toEqual([0, 511, 1, 0, 511]);
  });

  it("emits the directories before each file, the rest at the end, and the manifest in order", () => {
    const tar = new TarAssembler(entries, undefined);
    expect(tar.fileIndexes).toEqual([1]);
    const data = Buffer.from("hello");
    const sha256 = createHash("sha256").update(data).digest("hex");
    tar.fileHeader(0, data.length);
    tar.push(data);
    tar.push(Buffer.alloc(paddingOf(data.length)));
    tar.fileDone(0, { size: data.length, sha256, stamp });
    const first = tar.take();
    const result = tar.finish();
    const rest = tar.take();
    const archive = Buffer.concat([first, rest]);
    const expected = Buffer.concat([
      encodeTarHeader({ path: "a", type: "directory" }),
      encodeTarHeader({ path: "a/f", type: "file", size: 5 }),
      data,
      Buffer.alloc(507),
      encodeTarHeader({ path: "b", type: "directory" }),
      encodeTarHeader({ path: "c", type: "directory" }),
      Buffer.alloc(2 * TAR_BLOCK_SIZE),
    ]);
    expect(archive.equals(expected)).toBe(true);
    expect(result.archiveBytes).toBe(expected.length);
    expect(result.digest).toBe(
      manifestDigest([
        { type: "directory", path: "a" },
        { type: "file", path: "a/f", size: 5, sha256 },
        { type: "directory", path: "b" },
        { type: "directory", path: "c" },
      ]),
    );
    expect([result.fileCount, result.directoryCount, result.totalBytes]).toEqual([1, 3, 5]);
    expect(result.files).toEqual([
      {
        path: "a/f",
        size: 5,
        sha256,
        stamp: { dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n, ctimeNs: 5n },
      },
    ]);
  });
});
