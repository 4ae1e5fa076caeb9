import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  CancelledError,
  IntegrityError,
  type ManifestEntry,
  ValidationError,
} from "@trainable/core";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BLOCK,
  craftTar,
  dirEntry,
  END_OF_ARCHIVE,
  entry,
  fileEntry,
  gnuLongName,
  paxHeader,
} from "./__fixtures__/craft-tar.js";
import {
  makeFolder,
  manifestOf,
  packToBuffer,
  streamOfChunks,
  type Tree,
} from "./__fixtures__/packed.js";
import { makeSandbox, readTree, type Sandbox } from "./__fixtures__/sandbox.js";
import { encodeTarHeader } from "./encode-tar-header.js";
import { extractArchive, verifyArchive } from "./extract-archive.js";

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.cleanup()));
});
async function sandbox(): Promise<Sandbox> {
  const s = await makeSandbox();
  sandboxes.push(s);
  return s;
}

async function extractError(options: {
  sandbox: Sandbox;
  archive: Buffer;
  manifest: ManifestEntry[];
  compression?: "none" | "gzip";
  chunkSize?: number;
}): Promise<Error> {
  const error = await extractArchive({
    source: streamOfChunks(options.archive, options.chunkSize),
    manifest: options.manifest,
    target: options.sandbox.target,
    compression: options.compression ?? "none",
    what: "blob B",
  }).then(
    () => undefined,
    (e: Error) => e,
  );
  if (error === undefined) throw new Error("extraction unexpectedly succeeded");
  return error;
}

/** The refusal contract: IntegrityError naming the blob and the problem, nothing left behind. */
async function expectRefused(s: Sandbox, error: Error, message: RegExp): Promise<void> {
  expect(IntegrityError.isInstance(error), `${error.name}: ${error.message}`).toBe(true);
  expect(error.message).toMatch(/^\[storage\] blob B is damaged: /);
  expect(error.message).toMatch(message);
  await expect(lstat(s.target)).rejects.toMatchObject({ code: "ENOENT" });
  await s.expectUntouched();
}

const goodTree: Tree = { "good.txt": "good" };
const good = manifestOf(goodTree);
const goodEntry = (): Buffer => {
  const header = encodeTarHeader({ path: "good.txt", type: "file", size: 4 });
  const data = Buffer.alloc(BLOCK);
  data.write("good");
  return Buffer.concat([header, data]);
};

/**
 * Archives an attacker could plant behind a benign manifest (`good.txt`, or what the case
 * says). Whatever the trick, the bytes are not the canonical tar of the manifest.
 */
const hostile: Array<{
  name: string;
  archive: (s: Sandbox) => Buffer;
  manifest?: ManifestEntry[];
  message: RegExp;
}> = [
  {
    name: "a ../ path after the listed file",
    archive: () => craftTar(goodEntry(), fileEntry("../x", "pwned")),
    message: /holds more than the 1 entries of its manifest \(file "\.\.\/x"/,
  },
  {
    name: "a ../ path instead of the listed file",
    archive: () => craftTar(fileEntry("a/../../sentinel/keep.txt", "pwned")),
    message:
      /entry 1 is not the one its manifest lists: expected file "good\.txt", found file "a\/\.\.\/\.\.\/sentinel\/keep\.txt"/,
  },
  {
    name: "an absolute path",
    archive: (s) => craftTar(fileEntry(path.join(s.sentinel, "pwned"), "pwned")),
    message: /expected file "good\.txt", found file ".*sentinel\/pwned"/,
  },
  {
    name: "a pax path overriding the listed name",
    archive: () => craftTar(paxHeader([["path", "../../x"]]), fileEntry("good.txt", "good")),
    message: /expected file "good\.txt", found pax extended header/,
  },
  {
    name: "a GNU long name",
    archive: () => craftTar(gnuLongName("../evil"), fileEntry("good.txt", "good")),
    message: /expected file "good\.txt", found GNU long name/,
  },
  {
    name: "a symlink in place of the file",
    archive: (s) => craftTar(entry({ name: "good.txt", type: "2", linkname: s.sentinel })),
    message: /found symbolic link "good\.txt" → ".*sentinel"/,
  },
  {
    name: "a hard link after the file",
    archive: () =>
      craftTar(goodEntry(), entry({ name: "hl", type: "1", linkname: "../sentinel/keep.txt" })),
    message:
      /more than the 1 entries of its manifest \(hard link "hl" → "\.\.\/sentinel\/keep\.txt"/,
  },
  {
    name: "a character device",
    archive: () => craftTar(entry({ name: "good.txt", type: "3" })),
    message: /found character device "good\.txt"/,
  },
  {
    name: "a block device",
    archive: () => craftTar(entry({ name: "good.txt", type: "4" })),
    message: /found block device "good\.txt"/,
  },
  {
    name: "a FIFO",
    archive: () => craftTar(entry({ name: "good.txt", type: "6" })),
    message: /found FIFO "good\.txt"/,
  },
  {
    name: "setuid and world-writable modes",
    archive: () => craftTar(fileEntry("good.txt", "good", { mode: 0o4777 })),
    message: /found file "good\.txt" \(4 bytes, mode 4777\)/,
  },
  {
    name: "a GNU header (other magic) for the same file",
    archive: () => craftTar(fileEntry("good.txt", "good", { magic: "gnu" })),
    message:
      /expected file "good\.txt", found file "good\.txt" .*; its .*magic differ from the canonical header/,
  },
  {
    name: "a bad header checksum",
    archive: () => craftTar(fileEntry("good.txt", "good", { validChecksum: false })),
    message: /found a header with a bad checksum/,
  },
  {
    name: "a directory entry not in the manifest (the stray/ directory)",
    archive: () => craftTar(goodEntry(), dirEntry("stray"), dirEntry("stray/deeper")),
    message: /more than the 1 entries of its manifest \(directory "stray\/"/,
  },
  {
    name: "a directory where the manifest lists a file",
    archive: () => craftTar(dirEntry("good.txt")),
    message: /expected file "good\.txt", found directory "good\.txt\/"/,
  },
  {
    name: "a file with other content (same size)",
    archive: () => {
      const bytes = craftTar(goodEntry());
      bytes.write("evil", BLOCK);
      return bytes;
    },
    message: /file "good\.txt" has sha256 [0-9a-f]{64}, its manifest says [0-9a-f]{64}/,
  },
  {
    name: "a file of another size",
    archive: () => craftTar(fileEntry("good.txt", "good!")),
    message: /found file "good\.txt" \(5 bytes, mode 644\)/,
  },
  {
    name: "a missing file",
    archive: () => craftTar(goodEntry()),
    manifest: manifestOf({ "good.txt": "good", "weights.bin": "w" }),
    message:
      /entry 2 is not the one its manifest lists: expected file "weights\.bin", found an end-of-archive block/,
  },
  {
    name: "a duplicate file",
    archive: () => craftTar(goodEntry(), goodEntry()),
    message: /more than the 1 entries of its manifest \(file "good\.txt"/,
  },
  {
    name: "non-zero padding",
    archive: () => {
      const bytes = craftTar(goodEntry());
      bytes[BLOCK + 100] = 0x41;
      return bytes;
    },
    message: /the padding after "good\.txt" is not zero/,
  },
  {
    name: "data after the end-of-archive marker",
    archive: () => Buffer.concat([craftTar(goodEntry()), Buffer.alloc(BLOCK)]),
    message: /it has bytes after its end-of-archive marker/,
  },
  {
    name: "an archive cut before its end-of-archive marker",
    archive: () => goodEntry(),
    message: /it ends before its end-of-archive marker \(truncated\)/,
  },
  {
    name: "an archive cut inside the file",
    archive: () => goodEntry().subarray(0, BLOCK + 2),
    message: /it ends inside file "good\.txt" \(truncated\)/,
  },
  {
    name: "random bytes",
    archive: () => randomBytes(8 * BLOCK),
    message: /entry 1 is not the one its manifest lists/,
  },
];

describe("a refusal names what the manifest expected as well as what the archive holds", () => {
  const config = Buffer.alloc(700, "c");
  const refusal = async (archive: Buffer, manifest: ManifestEntry[]) => {
    const s = await sandbox();
    const error = await extractError({ sandbox: s, archive, manifest });
    await expectRefused(s, error, /entry 1 is not the one its manifest lists/);
    return error.message.replace(/^.*entry 1 is not the one its manifest lists: /, "");
  };
  const configLine = (size: number): ManifestEntry[] => [
    { type: "file", path: "config.json", size, sha256: "0".repeat(64) },
  ];

  it("a size the manifest and the header disagree on: both sizes", async () => {
    expect(await refusal(craftTar(fileEntry("config.json", config)), configLine(701))).toBe(
      'expected file "config.json", found file "config.json" (700 bytes, mode 644); its size differ from the canonical header (size: expected 701 bytes, found 700 bytes)',
    );
  });

  it("another mode: both modes", async () => {
    const archive = craftTar(fileEntry("config.json", config, { mode: 0o755 }));
    expect(await refusal(archive, configLine(700))).toBe(
      'expected file "config.json", found file "config.json" (700 bytes, mode 755); its mode differ from the canonical header (mode: expected 644, found 755)',
    );
  });

  it("another type, size and mode: each, both ways", async () => {
    expect(await refusal(craftTar(dirEntry("config.json")), configLine(700))).toBe(
      'expected file "config.json", found directory "config.json/" (0 bytes, mode 755); its type, size, mode differ from the canonical header (type: expected file, found directory; size: expected 700 bytes, found 0 bytes; mode: expected 644, found 755)',
    );
  });
});

describe("extractArchive creates exactly the manifest, byte for byte", () => {
  it.each(hostile)("refuses $name, writing nothing", async ({ archive, manifest, message }) => {
    const s = await sandbox();
    const bytes = archive(s);
    await expectRefused(
      s,
      await extractError({ sandbox: s, archive: bytes, manifest: manifest ?? good }),
      message,
    );
  });

  it("refuses the same archives gzipped and in odd-sized chunks", async () => {
    for (const { archive, manifest, message } of hostile) {
      const s = await sandbox();
      const error = await extractError({
        sandbox: s,
        archive: gzipSync(archive(s)),
        manifest: manifest ?? good,
        compression: "gzip",
        chunkSize: 7,
      });
      await expectRefused(s, error, message);
    }
  });

  it("refuses a manifest directory missing from the archive, and an archive directory missing from the manifest", async () => {
    const tree: Tree = { "a/b.txt": "b", empty: null };
    const { archive } = await packToBuffer(await makeFolder(tree));
    const withoutEmpty = manifestOf({ "a/b.txt": "b" });
    const s1 = await sandbox();
    await expectRefused(
      s1,
      await extractError({ sandbox: s1, archive, manifest: withoutEmpty }),
      /more than the 2 entries of its manifest \(directory "empty\/"/,
    );
    const withExtra = manifestOf({ ...tree, "zzz-extra": null });
    const s2 = await sandbox();
    await expectRefused(
      s2,
      await extractError({ sandbox: s2, archive, manifest: withExtra }),
      /expected directory "zzz-extra", found an end-of-archive block/,
    );
  });

  it("detects a flipped byte at any offset of a real archive (property)", async () => {
    const tree: Tree = { "a/b.bin": randomBytes(3000), "c.txt": "hello", "d/e": null };
    const { archive, result } = await packToBuffer(await makeFolder(tree));
    const manifest = manifestOf(tree);
    expect(result.digest).toMatch(/^sha256:/);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: archive.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (offset, xor) => {
          const s = await sandbox();
          const bad = Buffer.from(archive);
          bad[offset] = (bad[offset] ?? 0) ^ xor;
          const error = await extractError({ sandbox: s, archive: bad, manifest });
          expect(IntegrityError.isInstance(error), `offset ${offset}: ${error.message}`).toBe(true);
          await s.expectUntouched();
          await s.cleanup();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses an archive truncated at any length", async () => {
    const tree: Tree = { "w.bin": randomBytes(2000), x: "x" };
    const { archive } = await packToBuffer(await makeFolder(tree));
    for (const length of [
      0,
      1,
      511,
      512,
      513,
      1024,
      2560,
      archive.length - 1024,
      archive.length - 1,
    ]) {
      const s = await sandbox();
      const error = await extractError({
        sandbox: s,
        archive: archive.subarray(0, length),
        manifest: manifestOf(tree),
      });
      await expectRefused(s, error, /truncated|end-of-archive|not the one/);
    }
  });

  it("refuses gzip that is corrupt, cut in its trailer, or random; and gzip announced as plain", async () => {
    const { archive } = await packToBuffer(await makeFolder(goodTree));
    const gz = gzipSync(archive);
    const cases: Array<[Buffer, "none" | "gzip"]> = [
      [gz.subarray(0, gz.length - 4), "gzip"],
      [randomBytes(600), "gzip"],
      [gz, "none"],
    ];
    for (const [bytes, compression] of cases) {
      const s = await sandbox();
      const error = await extractError({ sandbox: s, archive: bytes, manifest: good, compression });
      expect(IntegrityError.isInstance(error), error.message).toBe(true);
      await s.expectUntouched();
    }
  });
});

describe("extractArchive round trip", () => {
  it("extracts what packFolder archived, for random trees, with and without gzip (property)", async () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9_.é-]{0,11}$/);
    const arbTree = fc.dictionary(
      fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/")),
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
        fc.constant(null),
      ),
      { maxKeys: 8 },
    );
    await fc.assert(
      fc.asyncProperty(arbTree, fc.boolean(), async (raw, gzip) => {
        // Drop entries that would nest under a file.
        const tree: Tree = {};
        for (const key of Object.keys(raw).sort()) {
          if (
            Object.keys(tree).some(
              (k) => tree[k] !== null && (key.startsWith(`${k}/`) || k.startsWith(`${key}/`)),
            )
          )
            continue;
          if (
            raw[key] === null &&
            Object.keys(tree).some((k) => k.startsWith(`${key}/`) || key.startsWith(`${k}/`))
          )
            continue;
          tree[key] = raw[key] as Buffer | null;
        }
        const folder = await makeFolder(tree);
        const { archive, result } = await packToBuffer(folder, {
          compression: gzip ? "gzip" : "none",
        });
        const s = await sandbox();
        await extractArchive({
          source: streamOfChunks(archive, 1000),
          manifest: manifestOf(tree),
          target: s.target,
          compression: gzip ? "gzip" : "none",
        });
        expect(await readTree(s.target)).toEqual(await readTree(folder));
        expect(result.fileCount + result.directoryCount).toBe(manifestOf(tree).length);
        await s.cleanup();
        await fs.promises.rm(folder, { recursive: true, force: true });
      }),
      { numRuns: 25 },
    );
  });

  it("writes files 0644 and directories 0755 whatever the umask, and keeps empty directories", async () => {
    const tree: Tree = {
      "a/b.txt": "b",
      "empty/inner": null,
      "big.bin": randomBytes(5 * 1024 * 1024),
    };
    const { archive } = await packToBuffer(await makeFolder(tree));
    const s = await sandbox();
    const previous = process.umask(0o077);
    try {
      await extractArchive({
        source: streamOfChunks(archive, 65536),
        manifest: manifestOf(tree),
        target: s.target,
        compression: "none",
      });
    } finally {
      process.umask(previous);
    }
    expect((await stat(path.join(s.target, "a/b.txt"))).mode & 0o7777).toBe(0o644);
    expect((await stat(path.join(s.target, "big.bin"))).mode & 0o7777).toBe(0o644);
    expect((await stat(path.join(s.target, "a"))).mode & 0o7777).toBe(0o755);
    expect((await stat(s.target)).mode & 0o7777).toBe(0o755);
    expect(await readdir(path.join(s.target, "empty"))).toEqual(["inner"]);
  });

  it("flushes every file to disk before the folder appears (durable)", async () => {
    const tree: Tree = { "a.txt": "a", "b/c.txt": "c", "big.bin": randomBytes(5 * 1024 * 1024) };
    const { archive } = await packToBuffer(await makeFolder(tree));
    const s = await sandbox();
    const synced: boolean[] = [];
    const spy = vi.spyOn(fs, "fdatasync").mockImplementation(((
      fd: number,
      cb: (e: Error | null) => void,
    ) => {
      synced.push(fs.existsSync(s.target));
      fs.fsyncSync(fd);
      cb(null);
    }) as typeof fs.fdatasync);
    try {
      await extractArchive({
        source: streamOfChunks(archive),
        manifest: manifestOf(tree),
        target: s.target,
        compression: "none",
      });
    } finally {
      spy.mockRestore();
    }
    expect(synced).toEqual([false, false, false]);
    expect(fs.existsSync(s.target)).toBe(true);
  });

  it("verifyArchive checks the same bytes and writes nothing", async () => {
    const tree: Tree = { "x/y.bin": randomBytes(10_000) };
    const { archive } = await packToBuffer(await makeFolder(tree));
    await verifyArchive({
      source: streamOfChunks(archive),
      manifest: manifestOf(tree),
      compression: "none",
    });
    const bad = Buffer.from(archive);
    bad[BLOCK * 2 + 10] = (bad[BLOCK * 2 + 10] ?? 0) ^ 1;
    await expect(
      verifyArchive({
        source: streamOfChunks(bad),
        manifest: manifestOf(tree),
        compression: "none",
        what: "blob V",
      }),
    ).rejects.toThrow(/blob V is damaged: file "x\/y\.bin" has sha256/);
  });

  it("an empty folder is an empty archive", async () => {
    const s = await sandbox();
    await extractArchive({
      source: streamOfChunks(END_OF_ARCHIVE),
      manifest: [],
      target: s.target,
      compression: "none",
    });
    expect(await readdir(s.target)).toEqual([]);
  });
});

describe("extractArchive options and lifecycle", () => {
  it("refuses an existing target and a missing parent, touching nothing", async () => {
    const s = await sandbox();
    await fs.promises.mkdir(s.target);
    await expect(
      extractArchive({
        source: streamOfChunks(END_OF_ARCHIVE),
        manifest: [],
        target: s.target,
        compression: "none",
      }),
    ).rejects.toSatisfy(ValidationError.isInstance);
    await expect(
      extractArchive({
        source: streamOfChunks(END_OF_ARCHIVE),
        manifest: [],
        target: path.join(s.parent, "no/such/out"),
        compression: "none",
      }),
    ).rejects.toThrow(/parent directory does not exist/);
  });

  it("cancels mid-stream: CancelledError, partial folder removed", async () => {
    const tree: Tree = { "big.bin": randomBytes(6 * 1024 * 1024) };
    const { archive } = await packToBuffer(await makeFolder(tree));
    const s = await sandbox();
    const controller = new AbortController();
    const slow = Readable.from(
      (async function* () {
        for (let i = 0; i < archive.length; i += 65536) {
          if (i === 65536 * 8) controller.abort(new Error("user pressed ^C"));
          yield archive.subarray(i, i + 65536);
          await new Promise((r) => setImmediate(r));
        }
      })(),
    );
    const error = await extractArchive({
      source: slow,
      manifest: manifestOf(tree),
      target: s.target,
      compression: "none",
      signal: controller.signal,
    }).catch((e) => e);
    expect(CancelledError.isInstance(error), String(error)).toBe(true);
    await s.expectUntouched();
  });

  it("passes on an error of the source stream and cleans up", async () => {
    const { archive } = await packToBuffer(await makeFolder(goodTree));
    const s = await sandbox();
    const failing = Readable.from(
      (async function* () {
        yield archive.subarray(0, 600);
        throw new Error("socket hang up");
      })(),
    );
    await expect(
      extractArchive({ source: failing, manifest: good, target: s.target, compression: "none" }),
    ).rejects.toThrow(/socket hang up/);
    await s.expectUntouched();
  });
});
