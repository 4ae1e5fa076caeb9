import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import {
  appendFile,
  chmod,
  mkdir,
  readFile,
  rm,
  symlink,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { CancelledError, IntegrityError, ValidationError } from "@trainable/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { sha256, tempDir } from "./__fixtures__/sandbox.js";
import { entryPathProblem } from "./entry-path-problem.js";
import { extractArchive } from "./extract-archive.js";
import { packFolder } from "./pack-folder.js";
import { type FolderScan, scanFolder } from "./scan-folder.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});
async function scratch(): Promise<string> {
  const dir = await tempDir("trainable-pack-");
  roots.push(dir);
  return dir;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function packToBuffer(folder: string, compression: "none" | "gzip" = "none") {
  const scan = await scanFolder({ folder });
  return { scan, archive: await collect(packFolder({ folder, scan, compression })) };
}

type Tree = Array<[string, Tree | Uint8Array]>;

/** Writes `tree` under `root`, in the given order, with the given modes and times. */
async function writeTree(
  root: string,
  tree: Tree,
  style: { reverse: boolean; fileMode: number; dirMode: number; time: Date },
): Promise<void> {
  const children = style.reverse ? [...tree].reverse() : tree;
  for (const [name, child] of children) {
    const abs = path.join(root, name);
    if (child instanceof Uint8Array) {
      await writeFile(abs, child);
      await chmod(abs, style.fileMode);
    } else {
      await mkdir(abs);
      await writeTree(abs, child, style);
      await chmod(abs, style.dirMode);
    }
    await utimes(abs, style.time, style.time);
  }
}

const layer0 = randomBytes(70_000);
const sampleTree: Tree = [
  ["config.json", Buffer.from('{"lr":0.1}')],
  [
    "weights",
    [
      ["layer-0.bin", layer0],
      ["layer-1.bin", randomBytes(513)],
      ["empty", []],
    ],
  ],
  ["tökenizer ✓.txt", Buffer.from("a b c")],
  [`${"long-".repeat(25)}name.bin`, randomBytes(10)],
  ["zero.bin", new Uint8Array(0)],
];

/** A scan's content, without the per-run fingerprints (inodes and times differ by folder). */
const content = ({ files, directories, totalBytes }: FolderScan) => ({
  files,
  directories,
  totalBytes,
});

describe("packFolder is deterministic", () => {
  it("gives byte-identical archives for the same content made differently", async () => {
    const a = path.join(await scratch(), "a");
    const b = path.join(await scratch(), "b");
    await mkdir(a);
    await mkdir(b);
    await writeTree(a, sampleTree, {
      reverse: false,
      fileMode: 0o600,
      dirMode: 0o700,
      time: new Date("2001-02-03T04:05:06Z"),
    });
    await new Promise((r) => setTimeout(r, 20));
    await writeTree(b, sampleTree, {
      reverse: true,
      fileMode: 0o755,
      dirMode: 0o775,
      time: new Date(),
    });
    for (const compression of ["none", "gzip"] as const) {
      const first = await packToBuffer(a, compression);
      const second = await packToBuffer(b, compression);
      expect(content(second.scan)).toEqual(content(first.scan));
      expect(sha256(second.archive)).toBe(sha256(first.archive));
      // Packing the same folder twice gives the same bytes too.
      expect(sha256((await packToBuffer(a, compression)).archive)).toBe(sha256(first.archive));
    }
  });

  it("pins the archive format for a small folder", async () => {
    const folder = await scratch();
    await mkdir(path.join(folder, "d"));
    await writeFile(path.join(folder, "d", "x.txt"), "hello\n");
    await writeFile(path.join(folder, "a.json"), "{}");
    const { archive } = await packToBuffer(folder);
    // a.json, d/, d/x.txt, end marker: 3 headers + 2 data blocks + 2 zero blocks.
    expect(archive.length).toBe(7 * 512);
    const names = [0, 1024, 1536].map((o) =>
      archive.toString("latin1", o, o + 8).replace(/\0+$/, ""),
    );
    expect(names).toEqual(["a.json", "d/", "d/x.txt"]);
    // mode, uid, gid, mtime fields of the first header.
    expect(archive.toString("latin1", 100, 148)).toBe(
      "000644 \0" + "000000 \0" + "000000 \0" + "0000000002 \0" + "0000000000 \0",
    );
    expect(archive.subarray(265, 329).every((byte) => byte === 0)).toBe(true); // uname, gname
    expect(archive.subarray(5 * 512).every((byte) => byte === 0)).toBe(true);
    // If this changes, every stored blob's bytes change: only on purpose.
    expect(sha256(archive)).toMatchInlineSnapshot(
      `"14bfa06d590d17a356d6f29250deb1f352346f4b54d5fbd57d13ae74623de8a7"`,
    );
  });

  it("property: random trees give identical archives and round-trip", async () => {
    const nameArb = fc
      .oneof(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
        fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 6 }),
        fc.string({ unit: "grapheme-ascii", minLength: 95, maxLength: 130 }),
      )
      .filter(
        (n) => !n.includes("/") && entryPathProblem(n) === undefined && Buffer.byteLength(n) <= 200,
      );
    const fileArb = fc.uint8Array({ maxLength: 1500 });
    const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc.uniqueArray(
        fc.tuple(nameArb, fc.oneof({ depthSize: "small" }, fileArb, tie("tree"))),
        { selector: ([name]) => name, maxLength: 4 },
      ),
    }));
    const base = await scratch();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (t) => {
        const dir = path.join(base, String(n++));
        const a = path.join(dir, "a");
        const b = path.join(dir, "b");
        await mkdir(a, { recursive: true });
        await mkdir(b);
        await writeTree(a, t, {
          reverse: false,
          fileMode: 0o644,
          dirMode: 0o755,
          time: new Date(0),
        });
        await writeTree(b, t, { reverse: true, fileMode: 0o600, dirMode: 0o700, time: new Date() });
        const first = await packToBuffer(a);
        const second = await packToBuffer(b);
        expect(second.archive.equals(first.archive)).toBe(true);
        const target = path.join(dir, "out");
        await extractArchive({
          source: Readable.from([first.archive]),
          target,
          compression: "none",
          expectedFiles: first.scan.files,
          expectedDirectories: first.scan.directories,
        });
        expect(content(await scanFolder({ folder: target }))).toEqual(content(first.scan));
        await rm(dir, { recursive: true });
      }),
      { numRuns: 40 },
    );
  });
});

describe("packFolder round trip and interop", () => {
  async function sampleFolder(): Promise<string> {
    const folder = path.join(await scratch(), "model");
    await mkdir(folder);
    await writeTree(folder, sampleTree, {
      reverse: false,
      fileMode: 0o640,
      dirMode: 0o750,
      time: new Date(),
    });
    return folder;
  }

  it("extracts to the same content, with and without gzip", async () => {
    const folder = await sampleFolder();
    for (const compression of ["none", "gzip"] as const) {
      const { scan, archive } = await packToBuffer(folder, compression);
      const target = path.join(await scratch(), "restored");
      await extractArchive({
        source: Readable.from([archive]),
        target,
        compression,
        expectedFiles: scan.files,
        expectedDirectories: scan.directories,
      });
      expect(content(await scanFolder({ folder: target }))).toEqual(content(scan));
      const weights = await readFile(path.join(target, "weights", "layer-0.bin"));
      expect(weights.equals(layer0)).toBe(true);
    }
  });

  it("is read by GNU tar (listing and extraction)", async () => {
    const folder = await sampleFolder();
    const dir = await scratch();
    const { scan, archive } = await packToBuffer(folder);
    await writeFile(path.join(dir, "a.tar"), archive);
    await writeFile(path.join(dir, "a.tar.gz"), (await packToBuffer(folder, "gzip")).archive);

    const listing = await run("tar", ["-tvf", path.join(dir, "a.tar")], {
      env: { ...process.env, LC_ALL: "C.UTF-8", TZ: "UTC" },
    });
    expect(listing.stderr).toBe("");
    const lines = listing.stdout.trim().split("\n");
    const expectedNames = [
      ...scan.directories.map((d) => `${d}/`),
      ...scan.files.map((f) => f.path),
    ].sort();
    expect(lines.map((l) => l.split(/\s+/).slice(5).join(" ")).sort()).toEqual(expectedNames);
    for (const line of lines) {
      expect(line).toMatch(/^(-rw-r--r--|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00 /);
    }

    for (const [file, flags] of [
      ["a.tar", "-xf"],
      ["a.tar.gz", "-xzf"],
    ] as const) {
      const out = path.join(dir, `gnu-${file}`);
      await mkdir(out);
      const extracted = await run("tar", [flags, path.join(dir, file), "-C", out]);
      expect(extracted.stderr).toBe("");
      expect(content(await scanFolder({ folder: out }))).toEqual(content(scan));
    }
  });

  it("extracts archives written by GNU tar (pax and GNU long names)", async () => {
    const folder = path.join(await scratch(), "src");
    const deep = `${"模型-".repeat(20)}/${"d".repeat(110)}`;
    await mkdir(path.join(folder, deep), { recursive: true });
    await writeFile(path.join(folder, deep, "wéights.bin"), randomBytes(3000));
    await writeFile(path.join(folder, "small.txt"), "small");
    const scan = await scanFolder({ folder });
    for (const format of ["pax", "gnu", "ustar"]) {
      const dir = await scratch();
      const file = path.join(dir, `${format}.tar`);
      const created = await run("tar", [
        `--format=${format}`,
        "-cf",
        file,
        "-C",
        folder,
        "small.txt",
        deep.split("/")[0]!,
      ]).catch((e: { stderr: string }) => e);
      if (format === "ustar") {
        // ustar cannot hold these names: GNU tar says so; nothing to test further.
        expect(created.stderr).toMatch(/too long/);
        continue;
      }
      expect(created.stderr).toBe("");
      const target = path.join(dir, "out");
      await extractArchive({
        source: createReadStream(file),
        target,
        compression: "none",
        expectedFiles: scan.files,
      });
      expect(content(await scanFolder({ folder: target }))).toEqual(content(scan));
    }
  });

  it("refuses what GNU tar archives from a folder with a symlink", async () => {
    const folder = path.join(await scratch(), "src");
    await mkdir(folder);
    await writeFile(path.join(folder, "a.txt"), "a");
    await symlink("/etc/passwd", path.join(folder, "passwd"));
    const dir = await scratch();
    await run("tar", ["-cf", path.join(dir, "x.tar"), "-C", folder, "a.txt", "passwd"]);
    const error = await extractArchive({
      source: createReadStream(path.join(dir, "x.tar")),
      target: path.join(dir, "out"),
      compression: "none",
      expectedFiles: [{ path: "a.txt", size: 1, sha256: sha256("a") }],
    }).catch((e: Error) => e);
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"passwd": it is a symbolic link/);
  });

  it("streams a large file with bounded memory", async () => {
    const dir = await scratch();
    const folder = path.join(dir, "big");
    await mkdir(folder);
    const size = 128 * MiB;
    const block = randomBytes(MiB);
    const file = path.join(folder, "weights.bin");
    for (let i = 0; i < size / MiB; i++) await appendFile(file, block);
    const scan = await scanFolder({ folder });
    expect(scan.totalBytes).toBe(size);

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const timer = setInterval(sample, 2);
    const archivePath = path.join(dir, "big.tar");
    try {
      await pipeline(
        packFolder({ folder, scan, compression: "none" }),
        createWriteStream(archivePath),
      );
      sample();
      await extractArchive({
        source: createReadStream(archivePath, { highWaterMark: MiB }),
        target: path.join(dir, "restored"),
        compression: "none",
        expectedFiles: scan.files,
      });
    } finally {
      clearInterval(timer);
    }
    sample();
    // The file (128 MiB) passes through twice; holding it would add at least 128 MiB. What we
    // see is ~40 MiB of chunks awaiting garbage collection, whatever the file size.
    expect(peak - baseline).toBeLessThan(80 * MiB);
    expect((await scanFolder({ folder: path.join(dir, "restored") })).files).toEqual(scan.files);
  });
});

describe("packFolder failures", () => {
  async function folderWith(files: Record<string, string>): Promise<string> {
    const folder = await scratch();
    for (const [name, content] of Object.entries(files)) {
      await writeFile(path.join(folder, name), content);
    }
    return folder;
  }

  it("fails with IntegrityError when a file grew after the scan", async () => {
    const folder = await folderWith({ "a.txt": "aaaa", "b.txt": "bbbb" });
    const scan = await scanFolder({ folder });
    await appendFile(path.join(folder, "b.txt"), "more");
    const error = await collect(packFolder({ folder, scan, compression: "none" })).catch(
      (e: Error) => e,
    );
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /"b\.txt": its size changed since the scan \(scanned 4 bytes, now 8\)/,
    );
  });

  it("fails when a file shrank after the scan, also through gzip", async () => {
    const folder = await folderWith({ "a.txt": "aaaa" });
    const scan = await scanFolder({ folder });
    await writeFile(path.join(folder, "a.txt"), "a");
    const error = await collect(packFolder({ folder, scan, compression: "gzip" })).catch(
      (e: Error) => e,
    );
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"a\.txt": its size changed since the scan/);
  });

  it("fails when a file's content changed (same size), unless verifyContent is off", async () => {
    const folder = await folderWith({ "a.txt": "aaaa" });
    const scan = await scanFolder({ folder });
    await writeFile(path.join(folder, "a.txt"), "bbbb");
    const error = await collect(packFolder({ folder, scan, compression: "none" })).catch(
      (e: Error) => e,
    );
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"a\.txt": its content changed since the scan/);
    const unverified = await collect(
      packFolder({ folder, scan, compression: "none", verifyContent: false }),
    );
    expect(unverified.includes(Buffer.from("bbbb"))).toBe(true);
  });

  it("round-trips names whose ustar prefix split would read back differently", async () => {
    // fast-check found it: a 99-character directory name plus its "/" is exactly 100 bytes.
    const folder = await folderWith({});
    for (const dir of [" ".repeat(99), "d".repeat(99)]) {
      await mkdir(path.join(folder, dir));
      await writeFile(path.join(folder, dir, "f.txt"), dir.slice(0, 3));
    }
    const scan = await scanFolder({ folder });
    const archive = await collect(packFolder({ folder, scan, compression: "none" }));
    const target = path.join(folder, "..", `out-${Date.now()}`);
    await extractArchive({
      source: Readable.from([archive]),
      target,
      compression: "none",
      expectedFiles: scan.files,
      expectedDirectories: scan.directories,
    });
    expect(content(await scanFolder({ folder: target }))).toEqual(content(scan));
  });

  it('"auto" trusts settled fingerprints and still catches any change after the scan', async () => {
    const folder = await folderWith({ "a.txt": "aaaa", "b.bin": "b".repeat(5000) });
    await new Promise((r) => setTimeout(r, 20)); // let the filesystem clock pass the writes
    const scan = await scanFolder({ folder });
    expect([...(scan.fingerprints?.values() ?? [])].every((f) => f.settled)).toBe(true);
    const auto = await collect(
      packFolder({ folder, scan, compression: "none", verifyContent: "auto" }),
    );
    const hashed = await collect(packFolder({ folder, scan, compression: "none" }));
    expect(auto.equals(hashed)).toBe(true);

    await writeFile(path.join(folder, "a.txt"), "cccc"); // same size, new content
    const error = await collect(
      packFolder({ folder, scan, compression: "none", verifyContent: "auto" }),
    ).catch((e: Error) => e);
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"a\.txt": it changed since the scan/);
  });

  it("fails when a file was deleted or replaced by a symlink", async () => {
    const folder = await folderWith({ "a.txt": "aaaa", "b.txt": "bbbb" });
    const scan = await scanFolder({ folder });
    await unlink(path.join(folder, "a.txt"));
    await unlink(path.join(folder, "b.txt"));
    await symlink("/etc/hostname", path.join(folder, "b.txt"));
    const error = await collect(packFolder({ folder, scan, compression: "none" })).catch(
      (e: Error) => e,
    );
    expect(IntegrityError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"a\.txt": it changed since the scan \(ENOENT\)/);
    await writeFile(path.join(folder, "a.txt"), "aaaa");
    const viaLink = await collect(packFolder({ folder, scan, compression: "none" })).catch(
      (e: Error) => e,
    );
    expect(IntegrityError.isInstance(viaLink)).toBe(true);
    expect((viaLink as Error).message).toMatch(/"b\.txt": it changed since the scan \(ELOOP\)/);
  });

  it("validates its options synchronously", () => {
    const scan = { files: [], directories: [] };
    const bad: Array<[() => unknown, RegExp]> = [
      [() => packFolder({ folder: "", scan, compression: "none" }), /Invalid folder/],
      [
        () => packFolder({ folder: "/tmp", scan, compression: "zip" as "gzip" }),
        /Invalid compression: must be "none" or "gzip", got "zip"/,
      ],
      [
        () => packFolder({ folder: "/tmp", scan, compression: "gzip", gzipLevel: 12 }),
        /Invalid gzipLevel/,
      ],
      [
        () =>
          packFolder({
            folder: "/tmp",
            scan: { files: [{ path: "../x", size: 1, sha256: "0".repeat(64) }], directories: [] },
            compression: "none",
          }),
        /Invalid scan\.files: "\.\.\/x": path contains a "\.\." segment/,
      ],
      [
        () =>
          packFolder({
            folder: "/tmp",
            scan: { files: [], directories: ["a", "a"] },
            compression: "none",
          }),
        /"a" is listed twice/,
      ],
    ];
    for (const [call, message] of bad) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(ValidationError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("stops with CancelledError when the signal aborts, closing its files", async () => {
    const folder = await scratch();
    await writeFile(path.join(folder, "big.bin"), randomBytes(8 * MiB));
    const scan = await scanFolder({ folder });
    for (const compression of ["none", "gzip"] as const) {
      const controller = new AbortController();
      const stream = packFolder({ folder, scan, compression, signal: controller.signal });
      let received = 0;
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          if (received > MiB) controller.abort();
          callback();
        },
      });
      const error = await pipeline(stream, sink).catch((e: Error) => e);
      expect(CancelledError.isInstance(error), String(error)).toBe(true);
      expect(received).toBeLessThan(8 * MiB);
    }
    expect(() =>
      packFolder({ folder, scan, compression: "none", signal: AbortSignal.abort() }),
    ).toThrow(/cancelled/);
  });

  it("gzip output is a valid gzip of the plain archive", async () => {
    const folder = await folderWith({ "a.txt": "aaaa".repeat(1000) });
    const scan = await scanFolder({ folder });
    const plain = await collect(packFolder({ folder, scan, compression: "none" }));
    const gz = await collect(packFolder({ folder, scan, compression: "gzip", gzipLevel: 9 }));
    expect(gz.length).toBeLessThan(plain.length);
    expect(gunzipSync(gz).equals(plain)).toBe(true);
  });
});
