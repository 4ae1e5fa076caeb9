import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { createGzip, gzipSync } from "node:zlib";
import {
  CancelledError,
  type CheckpointFile,
  IntegrityError,
  ValidationError,
} from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  BLOCK,
  craftTar,
  dirEntry,
  END_OF_ARCHIVE,
  entry,
  fileEntry,
  gnuLongName,
  paxHeader,
  rawHeader,
} from "./__fixtures__/craft-tar.js";
import { fileOf, makeSandbox, readTree, type Sandbox, streamOf } from "./__fixtures__/sandbox.js";
import type { ExtractLimits } from "./default-extract-limits.js";
import { extractArchive } from "./extract-archive.js";

const MiB = 1024 * 1024;
const sandboxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((s) => s.cleanup()));
});
async function sandbox(): Promise<Sandbox> {
  const s = await makeSandbox();
  sandboxes.push(s);
  return s;
}

async function extractionError(options: {
  sandbox: Sandbox;
  archive: Buffer | Readable;
  expectedFiles?: CheckpointFile[];
  expectedDirectories?: string[];
  limits?: Partial<ExtractLimits>;
  compression?: "none" | "gzip";
  chunkSize?: number;
}): Promise<Error> {
  const source = Buffer.isBuffer(options.archive)
    ? streamOf(options.archive, options.chunkSize)
    : options.archive;
  const result = await extractArchive({
    source,
    target: options.sandbox.target,
    compression: options.compression ?? "none",
    expectedFiles: options.expectedFiles ?? [],
    expectedDirectories: options.expectedDirectories,
    limits: options.limits,
  }).then(
    () => undefined,
    (error: Error) => error,
  );
  if (result === undefined) throw new Error("extraction unexpectedly succeeded");
  return result;
}

/** The refusal contract: IntegrityError, a message naming the problem, nothing left behind. */
async function expectRefused(
  s: Sandbox,
  error: Error,
  message: RegExp,
  errorClass: { isInstance(e: unknown): boolean } = IntegrityError,
): Promise<void> {
  expect(error.message).toMatch(/^\[storage\] \[archive\] /);
  expect(error.message).toMatch(message);
  expect(errorClass.isInstance(error), `${error.name}: ${error.message}`).toBe(true);
  await expect(lstat(s.target)).rejects.toMatchObject({ code: "ENOENT" });
  await s.expectUntouched();
}

interface HostileCase {
  name: string;
  build(s: Sandbox): Buffer;
  expectedFiles?: CheckpointFile[];
  limits?: Partial<ExtractLimits>;
  expectedDirectories?: string[];
  message: RegExp;
  /** Paths (relative to the sandbox parent) that must not exist afterwards. */
  absent?: string[];
}

const good = fileOf("good.txt", "good");
const goodEntry = fileEntry("good.txt", "good");

const hostile: HostileCase[] = [
  {
    name: "a ../ path",
    build: () => craftTar(goodEntry, fileEntry("../x", "pwned")),
    expectedFiles: [good],
    message: /"\.\.\/x": path contains a "\.\." segment/,
    absent: ["x"],
  },
  {
    name: "a ../ path hidden in the middle",
    build: () => craftTar(fileEntry("a/../../sentinel/keep.txt", "pwned")),
    message: /"a\/\.\.\/\.\.\/sentinel\/keep\.txt": path contains a "\.\." segment/,
  },
  {
    name: "an absolute path",
    build: (s) => craftTar(fileEntry(path.join(s.sentinel, "pwned"), "pwned")),
    message: /sentinel\/pwned": path is absolute/,
  },
  {
    name: "a backslash",
    build: () => craftTar(fileEntry("a\\..\\..\\x", "pwned")),
    message: /"a\\\\\.\.\\\\\.\.\\\\x": path contains a backslash/,
  },
  {
    name: "a drive letter",
    build: () => craftTar(fileEntry("C:x", "pwned")),
    message: /"C:x": path contains a drive letter/,
  },
  {
    name: "a NUL byte in a pax path",
    build: () => craftTar(paxHeader([["path", "ok\u0000../../x"]]), fileEntry("ok", "pwned")),
    expectedFiles: [fileOf("ok", "pwned")],
    message: /"ok\\u0000\.\.\/\.\.\/x": path contains a NUL byte/,
  },
  {
    name: "a NUL byte in a GNU long name",
    build: () =>
      craftTar(gnuLongName(Buffer.from("ok\u0000evil", "latin1")), fileEntry("ok", "pwned")),
    expectedFiles: [fileOf("ok", "pwned")],
    message: /"ok\\u0000evil": path contains a NUL byte/,
  },
  {
    name: "a control character",
    build: () => craftTar(fileEntry("a\nb", "x")),
    message: /"a\\nb": path contains a control character/,
  },
  {
    name: 'a "." segment',
    build: () => craftTar(fileEntry("./good.txt", "good")),
    expectedFiles: [good],
    message: /"\.\/good\.txt": path contains a "\." segment/,
  },
  {
    name: "an empty segment",
    build: () => craftTar(fileEntry("a//good.txt", "good")),
    message: /"a\/\/good\.txt": path contains an empty segment/,
  },
  {
    name: "a symlink followed by a file through it",
    build: (s) =>
      craftTar(
        entry({ name: "link", type: "2", linkname: s.sentinel }),
        fileEntry("link/pwned", "pwned"),
      ),
    expectedFiles: [fileOf("link/pwned", "pwned")],
    message: /"link": it is a symbolic link/,
  },
  {
    name: "a hard link",
    build: () =>
      craftTar(goodEntry, entry({ name: "hl", type: "1", linkname: "../sentinel/keep.txt" })),
    expectedFiles: [good],
    message: /"hl": it is a hard link/,
  },
  {
    name: "a character device",
    build: () => craftTar(entry({ name: "null", type: "3" })),
    message: /"null": it is a character device/,
  },
  {
    name: "a block device",
    build: () => craftTar(entry({ name: "sda", type: "4" })),
    message: /"sda": it is a block device/,
  },
  {
    name: "a FIFO",
    build: () => craftTar(entry({ name: "pipe", type: "6" })),
    message: /"pipe": it is a FIFO/,
  },
  {
    name: "a GNU sparse file",
    build: () => craftTar(entry({ name: "sparse", type: "S" }, "x")),
    message: /"sparse": it is a GNU sparse file/,
  },
  {
    name: "a pax-declared sparse file",
    build: () => craftTar(paxHeader([["GNU.sparse.major", "1"]]), fileEntry("good.txt", "good")),
    expectedFiles: [good],
    message: /"good\.txt": it is a GNU sparse file/,
  },
  {
    name: "a global extended header",
    build: () => craftTar(entry({ name: "g", type: "g" }, "9 a=bcd\n"), goodEntry),
    expectedFiles: [good],
    message: /"g": it is a global extended header/,
  },
  {
    name: "an unknown entry type",
    build: () => craftTar(entry({ name: "odd", type: "Q" }, "x")),
    message: /"odd": it is an entry of unknown type "Q"/,
  },
  {
    name: "a file with a link target",
    build: () => craftTar(fileEntry("good.txt", "good", { linkname: "../../etc/passwd" })),
    expectedFiles: [good],
    message: /"good\.txt": it carries a link target/,
  },
  {
    name: "a 300-byte pax path with maxPathLength 255",
    build: () => craftTar(paxHeader([["path", "a".repeat(300)]]), fileEntry("short", "x")),
    expectedFiles: [fileOf("a".repeat(300), "x")],
    limits: { maxPathLength: 255 },
    message: /path is 300 bytes, longer than the limit of 255 \(maxPathLength\)/,
  },
  {
    name: "a 300-byte GNU long name with maxPathLength 255",
    build: () => craftTar(gnuLongName("b".repeat(300)), fileEntry("short", "x")),
    expectedFiles: [fileOf("b".repeat(300), "x")],
    limits: { maxPathLength: 255 },
    message: /"b{300}": path is 300 bytes, longer than the limit of 255/,
  },
  {
    name: "a huge extended header",
    build: () => craftTar(paxHeader([["comment", "c".repeat(40_000)]]), goodEntry),
    expectedFiles: [good],
    limits: { maxPathLength: 255 },
    message: /extended header at byte 0 is \d+ bytes, more than the \d+ allowed/,
  },
  {
    name: "too many entries",
    build: () => craftTar(...[0, 1, 2, 3, 4].map((i) => fileEntry(`f${i}`, `${i}`))),
    expectedFiles: [0, 1, 2, 3, 4].map((i) => fileOf(`f${i}`, `${i}`)),
    limits: { maxEntries: 3 },
    message: /"f3": the archive has more than 3 entries \(maxEntries limit\)/,
  },
  {
    name: "more file data than maxTotalBytes",
    build: () => craftTar(fileEntry("a", "a".repeat(600)), fileEntry("b", "b".repeat(600))),
    expectedFiles: [fileOf("a", "a".repeat(600)), fileOf("b", "b".repeat(600))],
    limits: { maxTotalBytes: 1000 },
    message: /"b": the archive holds more than 1000 bytes of file data \(maxTotalBytes limit\)/,
  },
  {
    name: "a header claiming more data than present",
    build: () =>
      Buffer.concat([rawHeader({ name: "big.bin", size: 10_000 }), Buffer.alloc(100, 1)]),
    expectedFiles: [{ path: "big.bin", size: 10_000, sha256: "0".repeat(64) }],
    message: /truncated inside entry "big\.bin" \(header declares 10000 bytes, only 100 present\)/,
  },
  {
    name: "an archive cut after its last entry (no end-of-archive marker)",
    build: () => goodEntry,
    expectedFiles: [good],
    message: /without an end-of-archive marker/,
  },
  {
    name: "a bad header checksum",
    build: () => craftTar(fileEntry("good.txt", "good", { validChecksum: false })),
    expectedFiles: [good],
    message: /header checksum mismatch at byte 0/,
  },
  {
    name: "random bytes",
    build: () => randomBytes(8 * BLOCK),
    message: /Corrupt archive: (header checksum mismatch|unreadable header) at byte 0/,
  },
  {
    name: "data after the end-of-archive marker",
    build: () => Buffer.concat([craftTar(goodEntry), fileEntry("late", "late")]),
    expectedFiles: [good],
    message: /unexpected data after the end-of-archive marker/,
  },
  {
    name: "a lone zero block followed by an entry",
    build: () => craftTar(goodEntry, Buffer.alloc(BLOCK), fileEntry("late", "late")),
    expectedFiles: [good, fileOf("late", "late")],
    message: /lone zero block at byte 1024/,
  },
  {
    name: "a file not in the manifest",
    build: () => craftTar(goodEntry, fileEntry("extra.bin", "extra")),
    expectedFiles: [good],
    message: /"extra\.bin": file is not listed in the manifest/,
  },
  {
    name: "a file with the wrong sha256",
    build: () => craftTar(fileEntry("good.txt", "evil")),
    expectedFiles: [good],
    message: /"good\.txt": sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
  },
  {
    name: "a file with the wrong size",
    build: () => craftTar(fileEntry("good.txt", "good!")),
    expectedFiles: [good],
    message: /"good\.txt": size is 5 bytes, the manifest says 4/,
  },
  {
    name: "a missing expected file",
    build: () => craftTar(goodEntry),
    expectedFiles: [good, fileOf("weights.bin", "w")],
    message: /Missing file "weights\.bin": it is listed in the manifest but not in the archive/,
  },
  {
    name: "a duplicate file",
    build: () => craftTar(goodEntry, goodEntry),
    expectedFiles: [good],
    message: /"good\.txt": duplicate entry/,
  },
  {
    name: "a duplicate directory",
    build: () => craftTar(dirEntry("d"), dirEntry("d")),
    message: /"d\/": duplicate entry/,
  },
  {
    name: "a file under a file",
    build: () => craftTar(fileEntry("a", "x"), fileEntry("a/b", "y")),
    expectedFiles: [fileOf("a", "x"), fileOf("a/b", "y")],
    message: /"a\/b": its parent "a" is a file/,
  },
  {
    name: "a file where a directory was",
    build: () => craftTar(dirEntry("a"), fileEntry("a", "x")),
    expectedFiles: [fileOf("a", "x")],
    message: /"a": a directory of the same path appeared earlier/,
  },
  {
    name: "a directory entry that claims data",
    build: () => craftTar(entry({ name: "d/", type: "5", size: 512 }, Buffer.alloc(512))),
    message: /"d\/": it is a directory entry that claims to carry data/,
  },
  {
    name: "a directory not in expectedDirectories",
    build: () => craftTar(dirEntry("models"), dirEntry("stray")),
    expectedDirectories: ["models"],
    message: /"stray\/": directory is not listed in the manifest/,
  },
  {
    name: "a malformed pax record",
    build: () => craftTar(entry({ name: "p", type: "x" }, "99 path=short\n"), goodEntry),
    expectedFiles: [good],
    message: /malformed pax record/,
  },
  {
    name: "a name that is not UTF-8",
    build: () => craftTar(fileEntry(Buffer.from([0x66, 0xff, 0x66]) as unknown as string, "x")),
    message: /not valid UTF-8/,
  },
];

describe("extractArchive refuses hostile archives", () => {
  it.each(hostile)("$name", async (c) => {
    const s = await sandbox();
    const error = await extractionError({
      sandbox: s,
      archive: c.build(s),
      expectedFiles: c.expectedFiles,
      expectedDirectories: c.expectedDirectories,
      limits: c.limits,
    });
    await expectRefused(s, error, c.message);
    for (const rel of c.absent ?? []) {
      await expect(lstat(path.join(s.parent, rel))).rejects.toMatchObject({ code: "ENOENT" });
    }
  });

  it("refuses the same archives when they arrive gzipped and in odd-sized chunks", async () => {
    for (const c of hostile.filter((h) => !h.name.includes("random"))) {
      const s = await sandbox();
      const error = await extractionError({
        sandbox: s,
        archive: gzipSync(c.build(s)),
        compression: "gzip",
        chunkSize: 97,
        expectedFiles: c.expectedFiles,
        expectedDirectories: c.expectedDirectories,
        limits: c.limits,
      });
      await expectRefused(s, error, c.message);
    }
  });

  it("writes nothing through a symlink even when it is the only thing refused late", async () => {
    const s = await sandbox();
    // A legitimate directory first (so the partial folder has content), then the attack.
    const archive = craftTar(
      dirEntry("models"),
      fileEntry("models/a.bin", "aaa"),
      entry({ name: "models/link", type: "2", linkname: s.sentinel }),
      fileEntry("models/link/keep.txt", "pwned"),
    );
    const error = await extractionError({
      sandbox: s,
      archive,
      expectedFiles: [fileOf("models/a.bin", "aaa"), fileOf("models/link/keep.txt", "pwned")],
    });
    await expectRefused(s, error, /"models\/link": it is a symbolic link/);
  });

  it("stops a gzip bomb at maxTotalBytes without reading it all", async () => {
    const s = await sandbox();
    const files = 1024; // 1 GiB of zeros once decompressed, about 1 MiB of gzip
    const zeros = Buffer.alloc(MiB);
    const counter = { tarBytes: 0 };
    async function* tar(): AsyncGenerator<Buffer> {
      for (let i = 0; i < files; i++) {
        counter.tarBytes += BLOCK + MiB;
        yield rawHeader({ name: `bomb-${i}.bin`, size: MiB });
        yield zeros;
      }
      yield END_OF_ARCHIVE;
    }
    const gzip = createGzip({ level: 1 });
    Readable.from(tar(), { objectMode: false }).pipe(gzip);
    const manifest = Array.from({ length: files }, (_, i) => fileOf(`bomb-${i}.bin`, zeros));
    const error = await extractionError({
      sandbox: s,
      archive: gzip,
      compression: "gzip",
      expectedFiles: manifest,
      limits: { maxTotalBytes: 8 * MiB },
    });
    await expectRefused(
      s,
      error,
      /"bomb-8\.bin": the archive holds more than 8388608 bytes of file data \(maxTotalBytes limit\)/,
    );
    // Only what was needed (plus stream buffers) was ever generated.
    expect(counter.tarBytes).toBeLessThan(32 * MiB);
  });

  it("stops a single-entry gzip bomb at its header", async () => {
    const s = await sandbox();
    const header = rawHeader({ name: "huge.bin", size: 1024 * MiB });
    const archive = gzipSync(Buffer.concat([header, Buffer.alloc(4 * MiB)]));
    expect(archive.length).toBeLessThan(64 * 1024);
    const error = await extractionError({
      sandbox: s,
      archive,
      compression: "gzip",
      expectedFiles: [{ path: "huge.bin", size: 1024 * MiB, sha256: "0".repeat(64) }],
      limits: { maxTotalBytes: 8 * MiB },
    });
    await expectRefused(s, error, /"huge\.bin": the archive holds more than 8388608 bytes/);
  });

  it("refuses a truncated gzip stream", async () => {
    const s = await sandbox();
    const data = randomBytes(200_000);
    const archive = gzipSync(craftTar(fileEntry("w.bin", data)));
    const error = await extractionError({
      sandbox: s,
      archive: archive.subarray(0, Math.floor(archive.length / 2)),
      compression: "gzip",
      expectedFiles: [fileOf("w.bin", data)],
    });
    await expectRefused(s, error, /gzip stream is damaged or truncated/);
  });

  it("refuses a gzip stream cut only in its trailer", async () => {
    const s = await sandbox();
    const archive = gzipSync(craftTar(goodEntry));
    const error = await extractionError({
      sandbox: s,
      archive: archive.subarray(0, archive.length - 4),
      compression: "gzip",
      expectedFiles: [good],
    });
    await expectRefused(s, error, /gzip stream is damaged or truncated/);
  });

  it("refuses random bytes announced as gzip", async () => {
    const s = await sandbox();
    const error = await extractionError({
      sandbox: s,
      archive: randomBytes(4096),
      compression: "gzip",
    });
    await expectRefused(s, error, /gzip stream is damaged or truncated/);
  });

  it("refuses a gzip archive announced as plain tar", async () => {
    const s = await sandbox();
    const error = await extractionError({
      sandbox: s,
      archive: gzipSync(craftTar(goodEntry)),
      expectedFiles: [good],
    });
    await expectRefused(s, error, /Corrupt archive/);
  });
});

describe("extractArchive writes what it accepts", () => {
  it("strips setuid, setgid and sticky bits (files 0644, directories 0755)", async () => {
    const s = await sandbox();
    const archive = craftTar(
      dirEntry("bin", { mode: 0o7777 }),
      fileEntry("bin/tool", "#!/bin/sh\n", { mode: 0o6777 }),
      fileEntry("sticky", "s", { mode: 0o1777 }),
    );
    await extractArchive({
      source: streamOf(archive),
      target: s.target,
      compression: "none",
      expectedFiles: [fileOf("bin/tool", "#!/bin/sh\n"), fileOf("sticky", "s")],
    });
    expect((await stat(s.target)).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(s.target, "bin"))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(s.target, "bin/tool"))).mode & 0o7777).toBe(0o644);
    expect((await stat(path.join(s.target, "sticky"))).mode & 0o7777).toBe(0o644);
    expect(await readFile(path.join(s.target, "bin/tool"), "utf8")).toBe("#!/bin/sh\n");
  });

  it("reads pax and GNU long names (unicode, any chunking) and keeps empty directories", async () => {
    const paxName = `${"模型/".repeat(30)}weights-ü.bin`; // > 100 bytes, non-ASCII
    const gnuName = `${"d".repeat(120)}/é.json`;
    const prefixName = `${"p".repeat(90)}/${"q".repeat(60)}.txt`; // ustar prefix + name
    const weights = randomBytes(5000);
    const archive = craftTar(
      paxHeader([
        ["mtime", "1700000000.5"],
        ["path", paxName],
      ]),
      fileEntry("fallback-name", weights),
      gnuLongName(gnuName),
      fileEntry("fallback-2", "{}", { magic: "gnu" }),
      fileEntry(prefixName.slice(91), "prefixed", { prefix: prefixName.slice(0, 90) }),
      dirEntry("empty"),
    );
    const expectedFiles = [
      fileOf(paxName, weights),
      fileOf(gnuName, "{}"),
      fileOf(prefixName, "prefixed"),
    ];
    for (const chunkSize of [archive.length, 1, 7, 511, 513, 4096]) {
      const s = await sandbox();
      await extractArchive({
        source: streamOf(archive, chunkSize),
        target: s.target,
        compression: "none",
        expectedFiles,
        expectedDirectories: ["empty"],
      });
      expect(await readFile(path.join(s.target, ...paxName.split("/")))).toEqual(weights);
      expect(await readFile(path.join(s.target, ...gnuName.split("/")), "utf8")).toBe("{}");
      expect(await readFile(path.join(s.target, ...prefixName.split("/")), "utf8")).toBe(
        "prefixed",
      );
      expect(await readdir(path.join(s.target, "empty"))).toEqual([]);
      expect(await readdir(s.parent)).toEqual(["out", "sentinel"]);
    }
  });

  it("accepts GNU tar's record padding after the end-of-archive marker", async () => {
    const s = await sandbox();
    const archive = Buffer.concat([craftTar(goodEntry), Buffer.alloc(8 * 1024)]);
    await extractArchive({
      source: streamOf(archive),
      target: s.target,
      compression: "none",
      expectedFiles: [good],
    });
    expect(await readTree(s.target)).toEqual(
      new Map([["good.txt", Buffer.from("good").toString("base64")]]),
    );
  });

  it("extracts an empty archive to an empty folder", async () => {
    const s = await sandbox();
    await extractArchive({
      source: streamOf(END_OF_ARCHIVE),
      target: s.target,
      compression: "none",
      expectedFiles: [],
    });
    expect(await readdir(s.target)).toEqual([]);
  });
});

describe("extractArchive options and lifecycle", () => {
  it("refuses an existing target and leaves it alone", async () => {
    const s = await sandbox();
    await mkdir(s.target);
    await writeFile(path.join(s.target, "mine.txt"), "mine");
    const error = await extractArchive({
      source: streamOf(craftTar(goodEntry)),
      target: s.target,
      compression: "none",
      expectedFiles: [good],
    }).catch((e: Error) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/out": it already exists/);
    expect(await readdir(s.target)).toEqual(["mine.txt"]);
    expect(await readdir(s.parent)).toEqual(["out", "sentinel"]);
  });

  it("refuses a target whose parent does not exist", async () => {
    const s = await sandbox();
    const error = await extractArchive({
      source: streamOf(craftTar(goodEntry)),
      target: path.join(s.parent, "missing", "out"),
      compression: "none",
      expectedFiles: [good],
    }).catch((e: Error) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/parent directory does not exist/);
    await s.expectUntouched();
  });

  it("validates expectedFiles and limits before any I/O", async () => {
    const s = await sandbox();
    const cases: Array<[Partial<Parameters<typeof extractArchive>[0]>, RegExp]> = [
      [{ expectedFiles: [fileOf("../x", "x")] }, /Invalid expectedFiles: "\.\.\/x"/],
      [{ expectedFiles: [good, good] }, /"good\.txt" is listed twice/],
      [{ limits: { maxEntries: -1 } }, /Invalid limits\.maxEntries/],
      [{ compression: "zstd" as "gzip" }, /Invalid compression/],
      [{ expectedDirectories: ["/etc"] }, /Invalid expectedDirectories: "\/etc"/],
    ];
    for (const [override, message] of cases) {
      const error = await extractArchive({
        source: streamOf(craftTar(goodEntry)),
        target: s.target,
        compression: "none",
        expectedFiles: [good],
        ...override,
      }).catch((e: Error) => e);
      expect(ValidationError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
      await s.expectUntouched();
    }
  });

  it("honors an already aborted signal", async () => {
    const s = await sandbox();
    const error = await extractArchive({
      source: streamOf(craftTar(goodEntry)),
      target: s.target,
      compression: "none",
      expectedFiles: [good],
      signal: AbortSignal.abort(),
    }).catch((e: Error) => e);
    expect(CancelledError.isInstance(error)).toBe(true);
    await s.expectUntouched();
  });

  it("cancels mid-stream, removing the partial folder", async () => {
    const s = await sandbox();
    const first = randomBytes(3 * MiB);
    const archive = craftTar(fileEntry("a.bin", first), fileEntry("b.bin", "b"));
    const source = new Readable({ read() {} });
    // Everything up to the middle of b.bin's header: a.bin completes, then the stream stalls.
    source.push(archive.subarray(0, BLOCK + first.length + 100));
    const controller = new AbortController();
    const done = extractArchive({
      source,
      target: s.target,
      compression: "none",
      expectedFiles: [fileOf("a.bin", first), fileOf("b.bin", "b")],
      signal: controller.signal,
    }).catch((e: Error) => e);
    // Wait until a.bin is fully written in the partial folder.
    let partial: string | undefined;
    for (let i = 0; i < 500 && partial === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const name = (await readdir(s.parent)).find((n) => n.startsWith(".out.partial-"));
      if (name === undefined) continue;
      const written = await stat(path.join(s.parent, name, "a.bin")).catch(() => undefined);
      if (written?.size === first.length) partial = name;
    }
    expect(partial).toBeDefined();
    controller.abort(new Error("user pressed ctrl-c"));
    const error = await done;
    expect(CancelledError.isInstance(error), String(error)).toBe(true);
    expect(source.destroyed).toBe(true);
    await expect(lstat(s.target)).rejects.toMatchObject({ code: "ENOENT" });
    await s.expectUntouched();
  });

  it("passes on errors of the source stream and cleans up", async () => {
    const s = await sandbox();
    const source = new Readable({ read() {} });
    source.push(craftTar(goodEntry).subarray(0, BLOCK));
    setTimeout(() => source.destroy(new Error("connection reset")), 20);
    const error = await extractArchive({
      source,
      target: s.target,
      compression: "none",
      expectedFiles: [good],
    }).catch((e: Error) => e);
    expect((error as Error).message).toBe("connection reset");
    await s.expectUntouched();
  });
});
