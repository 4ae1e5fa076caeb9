/**
 * The hostile archives of the suite: each one an archive (and the manifest beside it) an
 * attacker could put in a bucket, and the refusal loading it must end in.
 *
 * Store format version 2 extracts by comparing every archive byte with the canonical tar of
 * the manifest (headers with fixed fields, exact sizes, zero padding, the end-of-archive
 * marker and nothing after). So each archive here starts with byte-exact canonical entries
 * (made by the store's own `packFolder`) and deviates only where the attack is — the
 * refusal then names the entry that is not what the manifest lists. Where the attack is in
 * what the manifest lists (traversal or absolute paths, limits), the manifest is refused as
 * it is read, before anything is created.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip, gzipSync } from "node:zlib";
import type { ExtractLimits } from "@trainable/storage";
import { type FolderEntry, type ManifestEntry, packFolder } from "@trainable/storage/archive";
import {
  BLOCK,
  type CanonicalInput,
  canonicalHeader,
  canonicalTar,
  craftTar,
  END_OF_ARCHIVE,
  fileEntry,
  gnuLongName,
  manifestEntriesOf,
  padToBlock,
  paxHeader,
  paxHeaderBytes,
  rawHeader,
  withMode,
  withoutEnd,
} from "./craft-tar.js";
import { type ArchiveBytes, sha256Hex } from "./plant.js";

export interface HostileContext {
  /** Absolute path of a folder the archive tries to reach; it must stay untouched. */
  sentinel: string;
  /** Scratch folder for archives too big to hold in memory, and canonical file data. */
  scratch: string;
}

export interface Built {
  archive: ArchiveBytes;
  /** What the ref's manifest lists (may be hostile itself). */
  manifest: ManifestEntry[];
}

export interface HostileArchive {
  /** Valid id: the plugin instance the archive is planted under. */
  id: string;
  /** The case it is recorded under (src/cases.json). */
  caseId: string;
  compression: "none" | "gzip";
  build(ctx: HostileContext): Promise<Built>;
  limits?: Partial<ExtractLimits>;
  /** The refusal's message must match. */
  refused: RegExp;
  /**
   * The refusal's error code: INTEGRITY (default: the stored data is refused), or VALIDATION
   * when the checkpoint is consistent but the target filesystem cannot hold it.
   */
  code?: "INTEGRITY" | "VALIDATION";
  /**
   * Plant an index record too (as a save would), so that a load which wrongly took the blob
   * for damaged would quarantine it; the test then checks it is not quarantined.
   */
  notDamage?: boolean;
  /** Loading modes (default all three). */
  modes?: Array<"fetch" | "loadRemote" | "cached">;
  /** Loading modes on S3, when fewer are enough (the extraction code is the same). */
  s3Modes?: Array<"fetch" | "loadRemote" | "cached">;
}

const GOOD = Buffer.from("benign weights\n");
const PWNED = Buffer.from("pwned\n");
const good: CanonicalInput = { type: "file", path: "model.bin", data: GOOD };
const fileOf = (path: string, data: Buffer): ManifestEntry => ({
  type: "file",
  path,
  size: data.length,
  sha256: sha256Hex(data),
});
/** Enough `../` to climb to `/` from any temp folder, then down to the sentinel. */
const climb = (ctx: HostileContext, leaf: string) =>
  `${"../".repeat(24)}${ctx.sentinel.slice(1)}/${leaf}`;
const withPaxPath = (path: string | Buffer, data: Buffer) =>
  Buffer.concat([
    Buffer.isBuffer(path) ? paxHeaderBytes([["path", path]]) : paxHeader([["path", path]]),
    fileEntry("placeholder", data),
  ]);
const bytes = (b: Buffer): ArchiveBytes => ({ bytes: b });

/** The canonical archive of `inputs` without its end marker, and its manifest. */
async function benign(ctx: HostileContext, inputs: CanonicalInput[] = [good]) {
  const { archive, manifest } = await canonicalTar(ctx.scratch, inputs);
  return { body: withoutEnd(archive), archive, manifest };
}

/** A canonical benign model.bin followed by `extra` (then the end marker): one entry too many. */
async function goodThen(ctx: HostileContext, ...extra: Buffer[]): Promise<Built> {
  const { body, manifest } = await benign(ctx);
  return { archive: bytes(craftTar(body, ...extra)), manifest };
}

const gz = (built: Built): Built => {
  if (!("bytes" in built.archive)) throw new Error("gz: archive in a file");
  return { ...built, archive: bytes(gzipSync(built.archive.bytes)) };
};

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

const BOMB_BYTES = 2 * GIB;
const ZEROS = "0".repeat(64);
const bombFile: ManifestEntry = {
  type: "file",
  path: "weights.bin",
  size: BOMB_BYTES,
  sha256: ZEROS,
};

/** A canonical tar of model.bin and one 2 GiB file of zeros, gzipped: ~2 MiB expanding to 2 GiB. */
async function tarBomb(ctx: HostileContext): Promise<Built> {
  const { body, manifest } = await benign(ctx);
  const archive = Buffer.concat([
    gzipSync(Buffer.concat([body, canonicalHeader("weights.bin", "file", BOMB_BYTES)])),
    ...gzipZeros(BOMB_BYTES),
    gzipSync(END_OF_ARCHIVE),
  ]);
  return { archive: bytes(archive), manifest: [...manifest, bombFile] };
}

/**
 * The canonical tar (gzipped, streamed to a file) and manifest of model.bin and `count`
 * directories `d0`…: a manifest over any entry limit, consistent with its archive.
 */
async function manyEntries(ctx: HostileContext, count: number): Promise<Built> {
  const path = join(ctx.scratch, `entries-${count}.tar.gz`);
  const data = join(ctx.scratch, "entries-model.bin");
  await writeFile(data, GOOD);
  const entries: FolderEntry[] = Array.from({ length: count }, (_, i) => ({
    type: "directory" as const,
    path: `d${i}`,
    abs: ctx.scratch,
  }));
  entries.push({ type: "file", path: "model.bin", abs: data });
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const { stream, result } = packFolder({ entries, compression: "none" });
  await pipeline(stream, createGzip({ level: 6 }), createWriteStream(path));
  const packed = await result;
  return { archive: { path }, manifest: manifestEntriesOf(Buffer.concat(packed.manifest)) };
}

/** "…holds more than the N entries of its manifest (<what the extra header is>" */
const extra = (what: string) =>
  new RegExp(`is damaged: it holds more than the 1 entries of its manifest \\(${what}`);

export const HOSTILE_ARCHIVES: HostileArchive[] = [
  {
    id: "dotdot",
    caseId: "hostile-archives.dotdot",
    compression: "none",
    build: (ctx) => goodThen(ctx, withPaxPath(climb(ctx, "pwned"), PWNED)),
    refused: extra('pax extended header "\\./\\./@PaxHeader"'),
  },
  {
    id: "dotdot-inner",
    caseId: "hostile-archives.dotdot-inner",
    compression: "gzip",
    build: async (ctx) => gz(await goodThen(ctx, fileEntry("a/../../pwned", PWNED))),
    refused: extra('file "a/\\.\\./\\.\\./pwned"'),
  },
  {
    id: "absolute",
    caseId: "hostile-archives.absolute",
    compression: "none",
    build: (ctx) => goodThen(ctx, fileEntry(`${ctx.sentinel}/pwned`, PWNED)),
    refused: extra('file "/[^"]*/sentinel/pwned"'),
  },
  {
    id: "symlink-out",
    caseId: "hostile-archives.symlink-out",
    compression: "none",
    // The manifest lists a directory "escape" and a file in it; the archive has a symlink
    // "escape" to the sentinel in the directory's place, then the file "through" it.
    build: async (ctx) => {
      const { archive, manifest } = await canonicalTar(ctx.scratch, [
        good,
        { type: "directory", path: "escape" },
        { type: "file", path: "escape/pwned", data: PWNED },
      ]);
      const evil = Buffer.concat([
        rawHeader({ name: "escape", type: "2", linkname: ctx.sentinel }),
        archive.subarray(BLOCK),
      ]);
      return { archive: bytes(evil), manifest };
    },
    refused:
      /entry 1 is not the one its manifest lists: expected directory "escape", found symbolic link "escape" → "[^"]*\/sentinel"/,
  },
  {
    id: "symlink-relative",
    caseId: "hostile-archives.symlink-relative",
    compression: "gzip",
    build: async (ctx) =>
      gz(await goodThen(ctx, rawHeader({ name: "up", type: "2", linkname: "../../../../.." }))),
    refused: extra('symbolic link "up" → "\\.\\./\\.\\./\\.\\./\\.\\./\\.\\."'),
  },
  {
    id: "hardlink-out",
    caseId: "hostile-archives.hardlink-out",
    compression: "none",
    // The manifest lists a file "secret"; the archive has a hard link to the sentinel instead.
    build: async (ctx) => {
      const { body } = await benign(ctx);
      return {
        archive: bytes(
          craftTar(
            body,
            rawHeader({ name: "secret", type: "1", linkname: `${ctx.sentinel}/secret.txt` }),
          ),
        ),
        manifest: [fileOf("model.bin", GOOD), fileOf("secret", PWNED)],
      };
    },
    refused:
      /entry 2 is not the one its manifest lists: expected file "secret", found hard link "secret" → "[^"]*\/sentinel\/secret\.txt"/,
  },
  {
    id: "char-device",
    caseId: "hostile-archives.char-device",
    compression: "none",
    build: (ctx) => goodThen(ctx, rawHeader({ name: "null", type: "3" })),
    refused: extra('character device "null"'),
  },
  {
    id: "block-device",
    caseId: "hostile-archives.block-device",
    compression: "none",
    build: (ctx) => goodThen(ctx, rawHeader({ name: "sda", type: "4" })),
    refused: extra('block device "sda"'),
  },
  {
    id: "fifo",
    caseId: "hostile-archives.fifo",
    compression: "none",
    build: (ctx) => goodThen(ctx, rawHeader({ name: "pipe", type: "6" })),
    refused: extra('FIFO "pipe"'),
  },
  {
    id: "setuid",
    caseId: "hostile-archives.setuid",
    compression: "none",
    // The canonical tar of bin/, bin/group-tool, bin/tool and model.bin, with the modes of the
    // first three set to 7777, 2777 and 4755 (checksums fixed): every byte else canonical.
    build: async (ctx) => {
      const { archive, manifest } = await canonicalTar(ctx.scratch, [
        good,
        { type: "directory", path: "bin" },
        { type: "file", path: "bin/group-tool", data: PWNED },
        { type: "file", path: "bin/tool", data: PWNED },
      ]);
      let evil = withMode(archive, 0, 0o7777);
      evil = withMode(evil, BLOCK, 0o2777);
      evil = withMode(evil, 3 * BLOCK, 0o4755);
      return { archive: bytes(evil), manifest };
    },
    refused:
      /entry 1 is not the one its manifest lists: expected directory "bin", found directory "bin\/" \(0 bytes, mode 7777\); its mode differ from the canonical header/,
  },
  {
    id: "long-name",
    caseId: "hostile-archives.long-name",
    compression: "none",
    build: async (ctx) => {
      const path = `${"a/".repeat(2600)}x`;
      const built = await goodThen(ctx, withPaxPath(path, PWNED));
      return { ...built, manifest: [...built.manifest, fileOf(path, PWNED)] };
    },
    refused: /path is 5201 bytes, longer than the limit of 4096 \(maxPathLength\)/,
  },
  {
    id: "huge-pax-header",
    caseId: "hostile-archives.huge-pax-header",
    compression: "gzip",
    build: async (ctx) => gz(await goodThen(ctx, withPaxPath("n".repeat(1024 * 1024), PWNED))),
    refused: extra('pax extended header "\\./\\./@PaxHeader" \\(1048\\d{3} bytes'),
  },
  {
    id: "long-segment",
    caseId: "hostile-archives.long-segment",
    compression: "none",
    // Byte-exact canonical archive of its manifest: the refusal comes from the target
    // filesystem (ENAMETOOLONG), as a ValidationError about the target, not an IntegrityError.
    build: async (ctx) => {
      const { archive, manifest } = await canonicalTar(ctx.scratch, [
        good,
        { type: "directory", path: "dir" },
        { type: "file", path: `dir/${"n".repeat(300)}`, data: PWNED },
      ]);
      return { archive: bytes(archive), manifest };
    },
    // Not damage: the checkpoint is consistent, this filesystem cannot hold it (NAME_MAX).
    refused:
      /Invalid target: cannot hold "dir\/n{300}": the path is longer than this filesystem allows/,
    code: "VALIDATION",
    notDamage: true,
  },
  {
    id: "nul-pax",
    caseId: "hostile-archives.nul-pax",
    compression: "none",
    build: (ctx) => goodThen(ctx, withPaxPath(Buffer.from("model.bin\u0000/../../pwned"), PWNED)),
    refused: extra('pax extended header "\\./\\./@PaxHeader"'),
  },
  {
    id: "nul-gnu",
    caseId: "hostile-archives.nul-gnu",
    compression: "none",
    build: (ctx) =>
      goodThen(
        ctx,
        gnuLongName(Buffer.from("ok\u0000/../../pwned")),
        fileEntry("placeholder", PWNED),
      ),
    refused: extra("GNU long name"),
  },
  {
    id: "backslash",
    caseId: "hostile-archives.backslash",
    compression: "none",
    build: (ctx) => goodThen(ctx, fileEntry("..\\..\\pwned", PWNED)),
    refused: extra('file "\\.\\.\\\\\\\\\\.\\.\\\\\\\\pwned"'),
  },
  {
    id: "drive-letter",
    caseId: "hostile-archives.drive-letter",
    compression: "none",
    build: (ctx) => goodThen(ctx, fileEntry("C:/Windows/pwned", PWNED)),
    refused: extra('file "C:/Windows/pwned"'),
  },
  {
    id: "drive-relative",
    caseId: "hostile-archives.drive-relative",
    compression: "none",
    build: (ctx) => goodThen(ctx, fileEntry("C:pwned", PWNED)),
    refused: extra('file "C:pwned"'),
  },
  {
    id: "entries-300k",
    caseId: "hostile-archives.entries-300k",
    compression: "gzip",
    // The manifest lists 300,001 entries, and the archive is their canonical tar: the limit
    // must stop the load whatever the length. (Directories cost ~0.6 ms each to create on
    // this disk: a low limit keeps the run short.)
    build: (ctx) => manyEntries(ctx, 300_000),
    limits: { maxEntries: 2_000 },
    refused: /more than 2000 entries \(maxEntries limit\)/,
  },
  {
    id: "gzip-bomb-zeros",
    caseId: "hostile-archives.gzip-bomb-zeros",
    compression: "gzip",
    // A complete canonical tar of model.bin, then 2 GiB of zeros (2 MiB of gzip) after its end.
    build: async (ctx) => {
      const { archive, manifest } = await benign(ctx);
      return {
        archive: bytes(Buffer.concat([gzipSync(archive), ...gzipZeros(BOMB_BYTES)])),
        manifest,
      };
    },
    refused: /it has bytes after its end-of-archive marker/,
  },
  {
    id: "gzip-bomb-limit",
    caseId: "hostile-archives.gzip-bomb-limit",
    compression: "gzip",
    build: tarBomb,
    limits: { maxTotalBytes: 256 * 1024 ** 2 },
    refused: /more than 268435456 bytes of file data \(maxTotalBytes limit\)/,
  },
  {
    id: "gzip-bomb-default",
    caseId: "hostile-archives.gzip-bomb-default",
    compression: "gzip",
    build: tarBomb,
    refused: /file "weights\.bin" has sha256 [0-9a-f]{64}, its manifest says 0{64}/,
    // Each load writes 2 GiB to disk before the sha256 can be checked: keep the count low.
    modes: ["fetch", "loadRemote"],
    s3Modes: ["fetch"],
  },
  {
    id: "short-data",
    caseId: "hostile-archives.short-data",
    compression: "none",
    build: async () => ({
      archive: bytes(
        Buffer.concat([canonicalHeader("big", "file", 1024 * 1024), randomBytes(100)]),
      ),
      manifest: [
        { type: "file", path: "big", size: 1024 * 1024, sha256: ZEROS },
        fileOf("model.bin", GOOD),
      ],
    }),
    refused: /it ends inside file "big" \(truncated\)/,
  },
  {
    id: "short-data-gzip",
    caseId: "hostile-archives.short-data-gzip",
    compression: "gzip",
    build: async () => ({
      archive: bytes(
        gzipSync(Buffer.concat([canonicalHeader("big", "file", 1024 * 1024), randomBytes(100)])),
      ),
      manifest: [
        { type: "file", path: "big", size: 1024 * 1024, sha256: ZEROS },
        fileOf("model.bin", GOOD),
      ],
    }),
    refused: /it ends inside file "big" \(truncated\)/,
  },
  {
    id: "random-bytes",
    caseId: "hostile-archives.random-bytes",
    compression: "none",
    build: async () => ({
      archive: bytes(randomBytes(64 * 1024)),
      manifest: [fileOf("model.bin", GOOD)],
    }),
    refused:
      /entry 1 is not the one its manifest lists: expected file "model\.bin", found (a header with a bad checksum|an unreadable header)/,
  },
  {
    id: "random-bytes-gzip",
    caseId: "hostile-archives.random-bytes-gzip",
    compression: "gzip",
    build: async () => ({
      archive: bytes(randomBytes(64 * 1024)),
      manifest: [fileOf("model.bin", GOOD)],
    }),
    refused: /its gzip stream is corrupt or truncated/,
  },
  {
    id: "manifest-dotdot",
    caseId: "hostile-archives.manifest-dotdot",
    compression: "none",
    build: async () => ({
      archive: bytes(craftTar(fileEntry("../../pwned", PWNED), padToBlock(GOOD))),
      manifest: [fileOf("model.bin", GOOD), fileOf("../../pwned", PWNED)],
    }),
    refused:
      /manifest of .* is damaged: line 1: entry "\.\.\/\.\.\/pwned": path contains a "\.\." segment/,
  },
  {
    id: "manifest-absolute",
    caseId: "hostile-archives.manifest-absolute",
    compression: "none",
    build: async (ctx) => ({
      archive: bytes(craftTar(fileEntry(`${ctx.sentinel}/pwned`, PWNED))),
      manifest: [fileOf("model.bin", GOOD), fileOf(`${ctx.sentinel}/pwned`, PWNED)],
    }),
    refused:
      /manifest of .* is damaged: line 1: entry "\/[^"]*\/sentinel\/pwned": path is absolute/,
  },
  {
    id: "manifest-directories",
    caseId: "hostile-archives.manifest-directories",
    compression: "none",
    build: async () => ({
      archive: bytes(craftTar(rawHeader({ name: "../../escape/", type: "5", mode: 0o755 }))),
      manifest: [fileOf("model.bin", GOOD), { type: "directory", path: "../../escape" }],
    }),
    refused:
      /manifest of .* is damaged: line 1: entry "\.\.\/\.\.\/escape": path contains a "\.\." segment/,
  },
];
