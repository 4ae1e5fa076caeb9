import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  errno,
  exists,
  fsyncPath,
  fsyncTree,
  isProcessAlive,
  mapLimit,
  readDirIfExists,
  writeFileAtomic,
} from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "trainable-node-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("mapLimit", () => {
  it("keeps order and never runs more than `limit` calls at once", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3"]);
    expect(peak).toBe(2);
  });

  it("handles no items and a limit below 1", async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
    expect(await mapLimit([1, 2], 0, async (n) => n * 2)).toEqual([2, 4]);
  });
});

describe("errno / exists / isProcessAlive", () => {
  it("reads the code of a system error only", () => {
    expect(errno(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe("ENOENT");
    expect(errno(new Error("x"))).toBeUndefined();
    expect(errno({ code: 3 })).toBeUndefined();
    expect(errno(undefined)).toBeUndefined();
  });

  it("exists sees files, folders and dangling links, not missing paths", async () => {
    await mkdir(join(dir, "d"));
    await symlink(join(dir, "nowhere"), join(dir, "link"));
    expect(await exists(join(dir, "d"))).toBe(true);
    expect(await exists(join(dir, "link"))).toBe(true);
    expect(await exists(join(dir, "missing"))).toBe(false);
  });

  it("readDirIfExists lists a folder, and nothing for a missing path or a file", async () => {
    await mkdir(join(dir, "d"));
    await writeFile(join(dir, "d", "f"), "");
    expect((await readDirIfExists(join(dir, "d"))).map((e) => [e.name, e.isFile()])).toEqual([
      ["f", true],
    ]);
    expect(await readDirIfExists(join(dir, "missing"))).toEqual([]);
    expect(await readDirIfExists(join(dir, "d", "f"))).toEqual([]);
  });

  it("isProcessAlive: this process yes, nonsense pids no", () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(0)).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
    expect(isProcessAlive(1.5)).toBe(false);
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file whole and leaves no temp file", async () => {
    const file = join(dir, "a.json");
    await writeFileAtomic(file, "one");
    await writeFileAtomic(file, "two", { fsync: true });
    expect(await readFile(file, "utf8")).toBe("two");
    expect(await readdir(dir)).toEqual(["a.json"]);
  });

  it("removes its temp file when the rename fails", async () => {
    await mkdir(join(dir, "taken"));
    await writeFile(join(dir, "taken", "x"), "");
    // Renaming a file over a non-empty folder fails (EISDIR).
    await expect(writeFileAtomic(join(dir, "taken"), "data")).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["taken"]);
  });

  it("uses the temp path it is given", async () => {
    await mkdir(join(dir, "tmp"));
    await writeFileAtomic(join(dir, "b"), "x", { temp: join(dir, "tmp", "b.part") });
    expect(await readFile(join(dir, "b"), "utf8")).toBe("x");
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });
});

describe("fsyncPath / fsyncTree", () => {
  it("fsyncs a file, a folder and a whole tree, leaving them as they were", async () => {
    await mkdir(join(dir, "a", "b"), { recursive: true });
    await writeFile(join(dir, "a", "b", "f.txt"), "x");
    await writeFile(join(dir, "g.txt"), "y");
    await fsyncPath(join(dir, "g.txt"));
    await fsyncPath(dir);
    await fsyncTree(dir);
    expect(await readFile(join(dir, "a", "b", "f.txt"), "utf8")).toBe("x");
    expect((await readdir(dir)).sort()).toEqual(["a", "g.txt"]);
  });

  it("throws for a missing path", async () => {
    expect(errno(await fsyncPath(join(dir, "missing")).catch((e) => e))).toBe("ENOENT");
    expect(errno(await fsyncTree(join(dir, "missing")).catch((e) => e))).toBe("ENOENT");
  });
});
