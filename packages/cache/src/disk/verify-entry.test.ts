import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSafeRelativePath, verifyEntry } from "./verify-entry.js";

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
});
