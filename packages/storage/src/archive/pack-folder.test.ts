import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { appendFile, mkdir, rm, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { CancelledError, IntegrityError, manifestDigest, ValidationError } from "@trainable/core";
import { afterAll, describe, expect, it } from "vitest";
import { makeFolder, manifestOf, packToBuffer, type Tree } from "./__fixtures__/packed.js";
import { readTree, sha256, tempDir } from "./__fixtures__/sandbox.js";
import { extractArchive } from "./extract-archive.js";
import { packFolder } from "./pack-folder.js";
import { walkFolder } from "./walk-folder.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const scratches: string[] = [];
async function scratch(): Promise<string> {
  const dir = await tempDir("trainable-pack-test-");
  scratches.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(scratches.map((d) => rm(d, { recursive: true, force: true })));
});

const sample: Tree = {
  "model.json": '{"layers":2}',
  "weights/layer0.bin": randomBytes(300_000),
  "weights/layer1.bin": randomBytes(2 * MiB + 17),
  "empty-dir": null,
  "é/ünïcode name.txt": "unicode",
  [`${"long-segment-".repeat(10)}/file-with-a-long-name-${"x".repeat(120)}.txt`]: "long",
};

describe("packFolder", () => {
  it("is deterministic: the same content made differently gives the same bytes and digest", async () => {
    const a = await makeFolder(sample, await scratch());
    const b = await scratch();
    // Same content, created in another order, with other times and modes.
    for (const rel of Object.keys(sample).reverse()) {
      const content = sample[rel];
      const abs = path.join(b, ...rel.split("/"));
      if (content === null) await mkdir(abs, { recursive: true });
      else {
        await mkdir(path.dirname(abs), { recursive: true });
        await writeFile(abs, content as string | Buffer, { mode: 0o600 });
        await utimes(abs, 12345, 67890);
      }
    }
    for (const compression of ["none", "gzip"] as const) {
      const first = await packToBuffer(a, { compression });
      const second = await packToBuffer(b, { compression });
      expect(second.result.digest).toBe(first.result.digest);
      expect(sha256(second.archive)).toBe(sha256(first.archive));
    }
    const { result } = await packToBuffer(a);
    // The digest is that of the manifest, whatever produced it.
    expect(result.digest).toBe(manifestDigest(manifestOf(sample)));
    expect(Buffer.concat(result.manifest).toString()).toContain('{"dir":"empty-dir"}\n');
    expect(result.manifestSize).toBe(Buffer.concat(result.manifest).length);
    expect(result.fileCount).toBe(5);
    expect(result.directoryCount).toBe(4);
  });

  it("pins the archive format for a small folder", async () => {
    const folder = await makeFolder({ "a.json": "{}", "d/x.txt": "hello\n" }, await scratch());
    const { archive, result } = await packToBuffer(folder);
    // a.json, d/, d/x.txt, end marker: 3 headers + 2 data blocks + 2 zero blocks.
    expect(archive.length).toBe(7 * 512);
    const names = [0, 1024, 1536].map((o) =>
      archive.toString("latin1", o, o + 8).replace(/\0+$/, ""),
    );
    expect(names).toEqual(["a.json", "d/", "d/x.txt"]);
    expect(archive.toString("latin1", 100, 148)).toBe(
      "000644 \0" + "000000 \0" + "000000 \0" + "0000000002 \0" + "0000000000 \0",
    );
    expect(archive.subarray(5 * 512).every((byte) => byte === 0)).toBe(true);
    // If these change, every stored checkpoint changes: only on purpose (a new format version).
    expect(sha256(archive)).toMatchInlineSnapshot(
      `"14bfa06d590d17a356d6f29250deb1f352346f4b54d5fbd57d13ae74623de8a7"`,
    );
    expect(Buffer.concat(result.manifest).toString()).toBe(
      '{"path":"a.json","size":2,"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}\n' +
        '{"dir":"d"}\n' +
        '{"path":"d/x.txt","size":6,"sha256":"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}\n',
    );
  });

  it("is read by GNU tar, and its gzip is a valid gzip of the plain archive", async () => {
    const folder = await makeFolder(sample, await scratch());
    const dir = await scratch();
    const plain = await packToBuffer(folder);
    const gz = await packToBuffer(folder, { compression: "gzip" });
    expect(gunzipSync(gz.archive).equals(plain.archive)).toBe(true);
    await writeFile(path.join(dir, "a.tar"), plain.archive);
    const listing = await run("tar", ["-tvf", path.join(dir, "a.tar")], {
      env: { ...process.env, LC_ALL: "C.UTF-8", TZ: "UTC" },
    });
    expect(listing.stderr).toBe("");
    for (const line of listing.stdout.trim().split("\n")) {
      expect(line).toMatch(/^(-rw-r--r--|drwxr-xr-x) 0\/0 +\d+ 1970-01-01 00:00 /);
    }
    const out = path.join(dir, "gnu");
    await mkdir(out);
    await run("tar", ["-xf", path.join(dir, "a.tar"), "-C", out]);
    expect(await readTree(out)).toEqual(await readTree(folder));
  });

  it("streams a large file with bounded memory, both ways", async () => {
    const dir = await scratch();
    const folder = path.join(dir, "big");
    await mkdir(folder);
    const block = randomBytes(MiB);
    for (let i = 0; i < 256; i++) await appendFile(path.join(folder, "weights.bin"), block);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    const archivePath = path.join(dir, "big.tar");
    let digest: string;
    try {
      const { stream, result } = packFolder({
        entries: await walkFolder({ folder }),
        compression: "none",
      });
      await pipeline(stream, createWriteStream(archivePath));
      digest = (await result).digest;
      await extractArchive({
        source: createReadStream(archivePath, { highWaterMark: MiB }),
        manifest: [
          {
            type: "file",
            path: "weights.bin",
            size: 256 * MiB,
            sha256: (await result).files[0]!.sha256,
          },
        ],
        target: path.join(dir, "restored"),
        compression: "none",
      });
    } finally {
      clearInterval(timer);
    }
    // 256 MiB passes through twice; holding it would add at least that much. What remains is
    // chunks awaiting garbage collection, whatever the file size.
    expect(peak - baseline).toBeLessThan(160 * MiB);
    expect((await packToBuffer(path.join(dir, "restored"))).result.digest).toBe(digest);
  });

  it("fails with IntegrityError when a file changes while it is read", async () => {
    const folder = await makeFolder({ "big.bin": randomBytes(64 * MiB) }, await scratch());
    const { stream, result } = packFolder({
      entries: await walkFolder({ folder }),
      compression: "none",
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the reader is at most 8 MiB ahead now
    await appendFile(path.join(folder, "big.bin"), "more");
    const drained = (async () => {
      for (;;) if ((await iterator.next()).done) return;
    })();
    await expect(drained).rejects.toThrow(/"big\.bin": it changed while it was read/);
    await expect(result).rejects.toSatisfy(IntegrityError.isInstance);
  });

  it("fails when a file is deleted or replaced by a symlink or a FIFO after the walk", async () => {
    for (const replace of ["delete", "symlink", "fifo"] as const) {
      const folder = await makeFolder({ "a.txt": "a", "b.txt": "b" }, await scratch());
      const entries = await walkFolder({ folder });
      const b = path.join(folder, "b.txt");
      await unlink(b);
      if (replace === "symlink") await symlink("/etc/passwd", b);
      if (replace === "fifo") await run("mkfifo", [b]);
      const { stream } = packFolder({ entries, compression: "none" });
      const failure = (async () => {
        for await (const _ of stream);
      })();
      await expect(failure).rejects.toThrow(
        /Cannot save "b\.txt": it (cannot be opened|is no longer a regular file)/,
      );
    }
  });

  it("stops with CancelledError when the signal aborts", async () => {
    const folder = await makeFolder({ "big.bin": randomBytes(32 * MiB) }, await scratch());
    const controller = new AbortController();
    const { stream, result } = packFolder({
      entries: await walkFolder({ folder }),
      compression: "none",
      signal: controller.signal,
    });
    const consumed = (async () => {
      let n = 0;
      for await (const _ of stream) if (++n === 2) controller.abort();
    })();
    await expect(consumed).rejects.toSatisfy(CancelledError.isInstance);
    await expect(result).rejects.toSatisfy(CancelledError.isInstance);
  });

  it("refuses a folder over the limits a load enforces (what saves can be loaded)", async () => {
    const folder = await makeFolder({ a: "1", b: "22", c: "333" }, await scratch());
    await expect(walkFolder({ folder, limits: { maxEntries: 2 } })).rejects.toThrow(
      /more than 2 entries \(maxEntries limit\)/,
    );
    const { stream } = packFolder({
      entries: await walkFolder({ folder }),
      compression: "none",
      limits: { maxTotalBytes: 4 },
    });
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow(/more than 4 bytes of file data \(maxTotalBytes limit\)/);
  });
});

describe("walkFolder", () => {
  it("lists directories and files in archive order", async () => {
    const folder = await makeFolder(
      { "b/c.txt": "c", "a-b": "x", "a/z": null, A: "upper" },
      await scratch(),
    );
    const entries = await walkFolder({ folder });
    expect(entries.map((e) => `${e.type[0]} ${e.path}`)).toEqual([
      "f A",
      "d a",
      "f a-b",
      "d a/z",
      "d b",
      "f b/c.txt",
    ]);
  });

  it("refuses symlinks, FIFOs, sockets and unsafe names, naming the path", async () => {
    const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
      ["symlink", (dir) => symlink("/etc", path.join(dir, "link")), /link": it is a symbolic link/],
      [
        "fifo",
        (dir) => run("mkfifo", [path.join(dir, "pipe")]).then(() => {}),
        /pipe": it is a FIFO/,
      ],
      [
        "socket",
        (dir) =>
          new Promise<void>((resolve) => {
            // Kept listening until the end of the run: closing removes the socket file.
            const server = createServer().listen(path.join(dir, "sock"), () => resolve());
            server.unref();
          }),
        /sock": it is a socket/,
      ],
      ["backslash", (dir) => writeFile(path.join(dir, "a\\b"), "x"), /path contains a backslash/],
      ["control character", (dir) => writeFile(path.join(dir, "a\nb"), "x"), /control character/],
    ];
    for (const [, make, message] of cases) {
      const dir = await scratch();
      await writeFile(path.join(dir, "ok.txt"), "ok");
      await make(dir);
      await expect(walkFolder({ folder: dir })).rejects.toThrow(message);
      await expect(walkFolder({ folder: dir })).rejects.toSatisfy(ValidationError.isInstance);
    }
    await expect(walkFolder({ folder: path.join(await scratch(), "missing") })).rejects.toThrow(
      /Cannot save folder/,
    );
  });
});
