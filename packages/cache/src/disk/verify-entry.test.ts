import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FileFingerprint } from "./file-fingerprint.js";
import { isSafeRelativePath, verifyEntry } from "./verify-entry.js";

/** Sets a file's mtime to the nanosecond (`utimes` takes doubles: not exact). GNU touch. */
function setMtimeNs(path: string, mtimeNs: bigint): void {
  const ns = String(mtimeNs % 1_000_000_000n).padStart(9, "0");
  const r = spawnSync("touch", ["-m", "-d", `@${mtimeNs / 1_000_000_000n}.${ns}`, path]);
  if (r.status !== 0) throw new Error(`touch failed: ${r.stderr}`);
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("verifyEntry", () => {
  let dir: string;
  const files = [
    { path: "a.txt", size: 5, sha256: sha("hello") },
    { path: "sub/b.txt", size: 5, sha256: sha("world") },
  ];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trainable-verify-"));
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "a.txt"), "hello");
    await writeFile(join(dir, "sub", "b.txt"), "world");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts an intact folder at both levels", async () => {
    expect(await verifyEntry({ dir, files, level: "size" })).toEqual({ ok: true });
    expect(await verifyEntry({ dir, files, level: "full" })).toEqual({ ok: true });
  });

  it("size: catches a missing or resized file; full: also same-size changes and extra files", async () => {
    await writeFile(join(dir, "a.txt"), "HELLO");
    expect(await verifyEntry({ dir, files, level: "size" })).toEqual({ ok: true });
    expect(await verifyEntry({ dir, files, level: "full" })).toMatchObject({
      ok: false,
      reason: /a.txt/,
    });
    await writeFile(join(dir, "a.txt"), "hello!");
    expect(await verifyEntry({ dir, files, level: "size" })).toMatchObject({
      ok: false,
      reason: /6 bytes/,
    });
    await writeFile(join(dir, "a.txt"), "hello");
    await writeFile(join(dir, "extra"), "x");
    expect(await verifyEntry({ dir, files, level: "full" })).toMatchObject({
      ok: false,
      reason: /extra/,
    });
    await rm(join(dir, "extra"));
    await rm(join(dir, "sub", "b.txt"));
    expect(await verifyEntry({ dir, files, level: "size" })).toMatchObject({
      ok: false,
      reason: /missing/,
    });
  });

  it("with the manifest's directories: an extra or missing directory is refused (stat, full)", async () => {
    const directories = ["sub"];
    const check = (level: "size" | "stat" | "full", dirs = directories) =>
      verifyEntry({ dir, files, directories: dirs, level });
    expect(await check("full")).toEqual({ ok: true });
    await mkdir(join(dir, "sub", "empty"));
    expect(await check("size")).toEqual({ ok: true });
    expect(await check("stat")).toMatchObject({ ok: false, reason: /directory sub\/empty is not/ });
    expect(await check("full")).toMatchObject({ ok: false, reason: /directory sub\/empty is not/ });
    expect(await check("full", ["sub", "sub/empty"])).toEqual({ ok: true });
    expect(await check("full", ["sub", "sub/empty", "gone"])).toMatchObject({
      ok: false,
      reason: /directory gone is missing/,
    });
    // A directory where the manifest has none is refused even when it holds no file.
    expect(await check("full", [])).toMatchObject({ ok: false, reason: /directory sub is not/ });
    expect(await check("size", ["../x"])).toMatchObject({ ok: false, reason: /unsafe path/ });
  });

  it("refuses links in place of files, and unsafe manifest paths", async () => {
    await rm(join(dir, "a.txt"));
    await symlink(join(dir, "sub", "b.txt"), join(dir, "a.txt"));
    expect(await verifyEntry({ dir, files, level: "size" })).toMatchObject({
      ok: false,
      reason: /regular/,
    });
    expect(isSafeRelativePath("../x")).toBe(false);
    expect(isSafeRelativePath("/etc/passwd")).toBe(false);
    expect(isSafeRelativePath("a//b")).toBe(false);
    expect(isSafeRelativePath("a/./b")).toBe(false);
    expect(isSafeRelativePath("a/b.c")).toBe(true);
  });

  describe('level "stat"', () => {
    let probeDir: string;
    let hashed: number;
    beforeEach(async () => {
      probeDir = await mkdtemp(join(tmpdir(), "trainable-verify-probe-"));
      hashed = 0;
    });
    afterEach(async () => {
      await rm(probeDir, { recursive: true, force: true });
    });
    const check = (fingerprints?: readonly FileFingerprint[]) =>
      verifyEntry({
        dir,
        files,
        level: "stat",
        fingerprints,
        probeDir,
        onHashed: (bytes) => {
          hashed += bytes;
        },
      });
    /** Fingerprints of the intact folder (hashed once, since there are none yet). */
    async function install(): Promise<FileFingerprint[]> {
      const result = await check();
      expect(result).toMatchObject({ ok: true });
      expect(hashed).toBe(10);
      hashed = 0;
      const fingerprints = (result as { fingerprints?: FileFingerprint[] }).fingerprints;
      expect(fingerprints?.map((f) => f.path)).toEqual(["a.txt", "sub/b.txt"]);
      return fingerprints as FileFingerprint[];
    }

    it("matching fingerprints: served without hashing anything", async () => {
      const fingerprints = await install();
      expect(await check(fingerprints)).toEqual({ ok: true });
      expect(hashed).toBe(0);
    });

    it("a byte flipped in place (same size, same mtime) is detected through ctime", async () => {
      const fingerprints = await install();
      const before = await stat(join(dir, "a.txt"), { bigint: true });
      const handle = await open(join(dir, "a.txt"), "r+");
      await handle.write("J", 0);
      await handle.close();
      setMtimeNs(join(dir, "a.txt"), before.mtimeNs);
      expect((await stat(join(dir, "a.txt"), { bigint: true })).mtimeNs).toBe(before.mtimeNs);
      expect(await check(fingerprints)).toMatchObject({ ok: false, reason: /a.txt.*sha256/ });
      expect(hashed).toBe(5);
    });

    it("a rewrite reset to its old mtime is detected; a chmod alone renews the fingerprint", async () => {
      const fingerprints = await install();
      const before = await stat(join(dir, "sub", "b.txt"), { bigint: true });
      await writeFile(join(dir, "sub", "b.txt"), "WORLD");
      setMtimeNs(join(dir, "sub", "b.txt"), before.mtimeNs);
      expect(await check(fingerprints)).toMatchObject({ ok: false, reason: /b.txt/ });
      await writeFile(join(dir, "sub", "b.txt"), "world");
      await chmod(join(dir, "a.txt"), 0o600);
      const renewed = await check(fingerprints);
      expect(renewed).toMatchObject({ ok: true, fingerprints: expect.any(Array) });
      hashed = 0;
      expect(await check((renewed as { fingerprints: FileFingerprint[] }).fingerprints)).toEqual({
        ok: true,
      });
      expect(hashed).toBe(0);
    });

    it("an extra file is refused", async () => {
      const fingerprints = await install();
      await writeFile(join(dir, "sub", "extra"), "x");
      expect(await check(fingerprints)).toMatchObject({ ok: false, reason: /sub\/extra/ });
    });
  });
});
