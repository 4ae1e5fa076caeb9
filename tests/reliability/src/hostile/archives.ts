/**
 * The hostile archives of the suite: each one an archive an attacker could put in a bucket,
 * with the manifest its ref lists and what loading it must do.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import type { CheckpointFile } from "@trainable/core";
import type { ExtractLimits } from "@trainable/storage";
import {
  craftTar,
  dirEntry,
  END_OF_ARCHIVE,
  fileEntry,
  gnuLongName,
  paxHeader,
  paxHeaderBytes,
  rawHeader,
} from "./craft-tar.js";
import { type ArchiveBytes, sha256Hex } from "./plant.js";

export interface HostileContext {
  /** Absolute path of a folder the archive tries to reach; it must stay untouched. */
  sentinel: string;
  /** Scratch folder for archives too big to hold in memory. */
  scratch: string;
}

export interface HostileArchive {
  /** Valid id: the plugin instance the archive is planted under. */
  id: string;
  /** The case, as the report names it. */
  title: string;
  compression: "none" | "gzip";
  build(ctx: HostileContext): Promise<ArchiveBytes> | ArchiveBytes;
  /** The ref's manifest (may be hostile itself). */
  files(ctx: HostileContext): CheckpointFile[];
  directories?: (ctx: HostileContext) => string[];
  limits?: Partial<ExtractLimits>;
  /** The refusal's message must match; `undefined`: the load must succeed (see `accepted`). */
  refused?: RegExp;
  /** Loading modes (default all three). */
  modes?: Array<"fetch" | "loadRemote" | "cached">;
  /** Loading modes on S3, when fewer are enough (the extraction code is the same). */
  s3Modes?: Array<"fetch" | "loadRemote" | "cached">;
}

const GOOD = Buffer.from("benign weights\n");
const good = (): CheckpointFile => ({
  path: "model.bin",
  size: GOOD.length,
  sha256: sha256Hex(GOOD),
});
const goodEntry = () => fileEntry("model.bin", GOOD);
const PWNED = Buffer.from("pwned\n");
const pwnedFile = (path: string): CheckpointFile => ({
  path,
  size: PWNED.length,
  sha256: sha256Hex(PWNED),
});
/** Enough `../` to climb to `/` from any temp folder, then down to the sentinel. */
const climb = (ctx: HostileContext, leaf: string) =>
  `${"../".repeat(24)}${ctx.sentinel.slice(1)}/${leaf}`;
const withPaxPath = (path: string | Buffer, data: Buffer, extra = {}) =>
  Buffer.concat([
    Buffer.isBuffer(path) ? paxHeaderBytes([["path", path]]) : paxHeader([["path", path]]),
    fileEntry("placeholder", data, extra),
  ]);
const bytes = (b: Buffer): ArchiveBytes => ({ bytes: b });

const GIB = 1024 ** 3;
const ZERO_MEMBER_BYTES = 64 * 1024 ** 2;
let zeroMember: Buffer | undefined;
/** One gzip member of 64 MiB of zeros (~64 KiB); gunzip reads concatenated members as one stream. */
function zerosMember(): Buffer {
  zeroMember ??= gzipSync(Buffer.alloc(ZERO_MEMBER_BYTES), { level: 9 });
  return zeroMember;
}
/** gzip members decompressing to `total` zero bytes (a multiple of 64 MiB). */
function gzipZeros(total: number): Buffer[] {
  return Array.from({ length: total / ZERO_MEMBER_BYTES }, () => zerosMember());
}

/** A tar holding one file of `size` zero bytes, gzipped: a few MiB expanding to `size`. */
function tarBomb(size: number): Buffer {
  return Buffer.concat([
    gzipSync(Buffer.concat([goodEntry(), rawHeader({ name: "weights.bin", size })])),
    ...gzipZeros(size),
    gzipSync(END_OF_ARCHIVE),
  ]);
}

/** A tar of `count` directory entries, streamed through gzip into a file (never all in memory). */
async function manyEntries(ctx: HostileContext, count: number): Promise<ArchiveBytes> {
  const path = join(ctx.scratch, `entries-${count}.tar.gz`);
  async function* tar() {
    yield goodEntry();
    for (let i = 0; i < count; i += 1000) {
      const batch: Buffer[] = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) batch.push(dirEntry(`d${j}`));
      yield Buffer.concat(batch);
    }
    yield END_OF_ARCHIVE;
  }
  await pipeline(Readable.from(tar()), createGzip({ level: 6 }), createWriteStream(path));
  return { path };
}

const BOMB_BYTES = 2 * GIB;
const ZEROS = "0".repeat(64);

export const HOSTILE_ARCHIVES: HostileArchive[] = [
  {
    id: "dotdot",
    title: "`../` path climbing out of the target",
    compression: "none",
    build: (ctx) => bytes(craftTar(goodEntry(), withPaxPath(climb(ctx, "pwned"), PWNED))),
    files: () => [good()],
    refused: /Refused archive entry .*"\.\." segment/,
  },
  {
    id: "dotdot-inner",
    title: "`a/../../` path (traversal after a normal segment)",
    compression: "gzip",
    build: () => bytes(gzipSync(craftTar(goodEntry(), fileEntry("a/../../pwned", PWNED)))),
    files: () => [good()],
    refused: /Refused archive entry "a\/\.\.\/\.\.\/pwned".*"\.\." segment/,
  },
  {
    id: "absolute",
    title: "absolute path into the sentinel folder",
    compression: "none",
    build: (ctx) => bytes(craftTar(goodEntry(), withPaxPath(`${ctx.sentinel}/pwned`, PWNED))),
    files: () => [good()],
    refused: /Refused archive entry .*path is absolute/,
  },
  {
    id: "symlink-out",
    title: "symlink to the sentinel folder, then a file through it",
    compression: "none",
    build: (ctx) =>
      bytes(
        craftTar(
          goodEntry(),
          rawHeader({ name: "escape", type: "2", linkname: ctx.sentinel }),
          fileEntry("escape/pwned", PWNED),
        ),
      ),
    files: () => [good(), pwnedFile("escape/pwned")],
    refused: /Refused archive entry "escape": it is a symbolic link/,
  },
  {
    id: "symlink-relative",
    title: "symlink with a relative `../..` target",
    compression: "gzip",
    build: () =>
      bytes(
        gzipSync(
          craftTar(goodEntry(), rawHeader({ name: "up", type: "2", linkname: "../../../../.." })),
        ),
      ),
    files: () => [good()],
    refused: /Refused archive entry "up": it is a symbolic link/,
  },
  {
    id: "hardlink-out",
    title: "hard link to a file outside the target",
    compression: "none",
    build: (ctx) =>
      bytes(
        craftTar(
          goodEntry(),
          rawHeader({ name: "secret", type: "1", linkname: `${ctx.sentinel}/secret.txt` }),
        ),
      ),
    files: () => [good(), pwnedFile("secret")],
    refused: /Refused archive entry "secret": it is a hard link/,
  },
  {
    id: "char-device",
    title: "character device entry",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), rawHeader({ name: "null", type: "3" }))),
    files: () => [good()],
    refused: /Refused archive entry "null": it is a character device/,
  },
  {
    id: "block-device",
    title: "block device entry",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), rawHeader({ name: "sda", type: "4" }))),
    files: () => [good()],
    refused: /Refused archive entry "sda": it is a block device/,
  },
  {
    id: "fifo",
    title: "FIFO entry",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), rawHeader({ name: "pipe", type: "6" }))),
    files: () => [good()],
    refused: /Refused archive entry "pipe": it is a FIFO/,
  },
  {
    id: "setuid",
    title: "setuid/setgid/sticky modes (stripped, not refused)",
    compression: "none",
    build: () =>
      bytes(
        craftTar(
          dirEntry("bin", { mode: 0o7777 }),
          fileEntry("bin/tool", PWNED, { mode: 0o4755 }),
          fileEntry("bin/group-tool", PWNED, { mode: 0o2777 }),
          goodEntry(),
        ),
      ),
    files: () => [good(), pwnedFile("bin/tool"), pwnedFile("bin/group-tool")],
  },
  {
    id: "long-name",
    title: "pax path of 5,201 bytes (over maxPathLength)",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), withPaxPath(`${"a/".repeat(2600)}x`, PWNED))),
    files: () => [good()],
    refused: /path is 5201 bytes, longer than the limit of 4096 \(maxPathLength\)/,
  },
  {
    id: "huge-pax-header",
    title: "1 MiB pax header (a path far over any limit)",
    compression: "gzip",
    build: () =>
      bytes(gzipSync(craftTar(goodEntry(), withPaxPath("n".repeat(1024 * 1024), PWNED)))),
    files: () => [good()],
    refused: /extended header at byte \d+ is \d+ bytes, more than the \d+ allowed/,
  },
  {
    id: "long-segment",
    title: "path segment of 300 bytes (over NAME_MAX), listed in the manifest",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), withPaxPath(`dir/${"n".repeat(300)}`, PWNED))),
    files: () => [good(), pwnedFile(`dir/${"n".repeat(300)}`)],
    refused: /Refused archive entry "dir\/n+": a path segment is longer than the filesystem allows/,
  },
  {
    id: "nul-pax",
    title: "NUL byte inside a pax path",
    compression: "none",
    build: () =>
      bytes(craftTar(goodEntry(), withPaxPath(Buffer.from("model.bin\u0000/../../pwned"), PWNED))),
    files: () => [good()],
    refused: /path contains a NUL byte/,
  },
  {
    id: "nul-gnu",
    title: "NUL byte inside a GNU long name",
    compression: "none",
    build: () =>
      bytes(
        craftTar(
          goodEntry(),
          gnuLongName(Buffer.from("ok\u0000/../../pwned")),
          fileEntry("placeholder", PWNED),
        ),
      ),
    files: () => [good()],
    refused: /path contains a NUL byte/,
  },
  {
    id: "backslash",
    title: "backslash path `..\\..\\pwned`",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), fileEntry("..\\..\\pwned", PWNED))),
    files: () => [good()],
    refused: /path contains a backslash/,
  },
  {
    id: "drive-letter",
    title: "drive-letter path `C:/Windows/pwned`",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), fileEntry("C:/Windows/pwned", PWNED))),
    files: () => [good()],
    refused: /path contains a drive letter/,
  },
  {
    id: "drive-relative",
    title: "drive-relative path `C:pwned`",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), fileEntry("C:pwned", PWNED))),
    files: () => [good()],
    refused: /path contains a drive letter/,
  },
  {
    id: "entries-300k",
    title: "300,000 entries (store limits.maxEntries 2,000)",
    compression: "gzip",
    build: (ctx) => manyEntries(ctx, 300_000),
    files: () => [good()],
    // Directories cost ~0.6 ms each to create on this disk: a low limit keeps the run short;
    // what is tested is that the limit stops the archive, whatever its length.
    limits: { maxEntries: 2_000 },
    refused: /more than 2000 entries \(maxEntries limit\)/,
  },
  {
    id: "gzip-bomb-zeros",
    title: "gzip bomb: 2 MiB of gzip expanding to 2 GiB of zeros",
    compression: "gzip",
    build: () => bytes(Buffer.concat(gzipZeros(BOMB_BYTES))),
    files: () => [good()],
    refused: /more than 1048576 bytes of padding after the end-of-archive marker/,
  },
  {
    id: "gzip-bomb-limit",
    title: "gzip bomb: tar of one 2 GiB file (store limits.maxTotalBytes 256 MiB)",
    compression: "gzip",
    build: () => bytes(tarBomb(BOMB_BYTES)),
    files: () => [good(), { path: "weights.bin", size: BOMB_BYTES, sha256: ZEROS }],
    limits: { maxTotalBytes: 256 * 1024 ** 2 },
    refused: /more than 268435456 bytes of file data \(maxTotalBytes limit\)/,
  },
  {
    id: "gzip-bomb-default",
    title: "gzip bomb: tar of one 2 GiB file, default limits, wrong sha256",
    compression: "gzip",
    build: () => bytes(tarBomb(BOMB_BYTES)),
    files: () => [good(), { path: "weights.bin", size: BOMB_BYTES, sha256: ZEROS }],
    refused: /Refused archive entry "weights.bin": sha256 is [0-9a-f]{64}, the manifest says 0{64}/,
    // Each load writes 2 GiB to disk before the sha256 can be checked: keep the count low.
    modes: ["fetch", "loadRemote"],
    s3Modes: ["fetch"],
  },
  {
    id: "short-data",
    title: "header declaring 1 MiB with 100 bytes present",
    compression: "none",
    build: () =>
      bytes(
        Buffer.concat([
          goodEntry(),
          rawHeader({ name: "big", size: 1024 * 1024 }),
          randomBytes(100),
        ]),
      ),
    files: () => [good(), { path: "big", size: 1024 * 1024, sha256: ZEROS }],
    refused: /truncated inside entry "big" \(header declares 1048576 bytes, only 100 present\)/,
  },
  {
    id: "short-data-gzip",
    title: "header declaring 1 MiB with 100 bytes present (gzip)",
    compression: "gzip",
    build: () =>
      bytes(
        gzipSync(
          Buffer.concat([
            goodEntry(),
            rawHeader({ name: "big", size: 1024 * 1024 }),
            randomBytes(100),
          ]),
        ),
      ),
    files: () => [good(), { path: "big", size: 1024 * 1024, sha256: ZEROS }],
    refused: /truncated inside entry "big"/,
  },
  {
    id: "random-bytes",
    title: "64 KiB of random bytes",
    compression: "none",
    build: () => bytes(randomBytes(64 * 1024)),
    files: () => [good()],
    refused: /Corrupt archive: (header checksum mismatch|unreadable header)/,
  },
  {
    id: "random-bytes-gzip",
    title: "64 KiB of random bytes, ref says gzip",
    compression: "gzip",
    build: () => bytes(randomBytes(64 * 1024)),
    files: () => [good()],
    refused: /Corrupt archive: the gzip stream is damaged or truncated/,
  },
  {
    id: "manifest-dotdot",
    title: "the ref's manifest itself lists `../../pwned` (digest computed over it)",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), fileEntry("../../pwned", PWNED))),
    files: () => [good(), pwnedFile("../../pwned")],
    refused: /"\.\.\/\.\.\/pwned".*"\.\." segment/,
  },
  {
    id: "manifest-absolute",
    title: "the ref's manifest itself lists an absolute path",
    compression: "none",
    build: (ctx) => bytes(craftTar(goodEntry(), withPaxPath(`${ctx.sentinel}/pwned`, PWNED))),
    files: (ctx) => [good(), pwnedFile(`${ctx.sentinel}/pwned`)],
    refused: /path is absolute/,
  },
  {
    id: "manifest-directories",
    title: "the ref's directories list `../../escape`",
    compression: "none",
    build: () => bytes(craftTar(goodEntry(), dirEntry("../../escape"))),
    files: () => [good()],
    directories: () => ["../../escape"],
    refused: /"\.\.\/\.\.\/escape".*"\.\." segment/,
  },
];
