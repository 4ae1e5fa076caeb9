import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { CancelledError, ValidationError } from "@trainable/core";
import { afterAll, describe, expect, it } from "vitest";
import { sha256, tempDir } from "./__fixtures__/sandbox.js";
import { scanFolder } from "./scan-folder.js";

const run = promisify(execFile);
const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});
async function scratch(): Promise<string> {
  const dir = await tempDir("trainable-scan-");
  roots.push(dir);
  return dir;
}

async function expectValidationError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: Error) => e,
  );
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  expect((error as Error).message).toMatch(/^\[storage\] \[archive\] /);
  expect((error as Error).message).toMatch(message);
}

describe("scanFolder", () => {
  it("lists files (size, sha256) and directories in UTF-8 byte order", async () => {
    const folder = await scratch();
    // Byte order: "B" < "a.txt" < "a/…" < "é" (C3 A9) < "\uE000" (EE 80 80) < "😀" (F0 9F 98 80).
    // UTF-16 order would put "😀" (D83D…) before "\uE000".
    const names = ["😀", "\uE000", "é", "a.txt", "B"];
    for (const name of names) await writeFile(path.join(folder, name), name);
    await mkdir(path.join(folder, "a", "empty"), { recursive: true });
    const weights = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(path.join(folder, "a", "w.bin"), weights);

    const scan = await scanFolder({ folder });
    expect(scan.files.map((f) => f.path)).toEqual(["B", "a.txt", "a/w.bin", "é", "\uE000", "😀"]);
    expect(scan.directories).toEqual(["a", "a/empty"]);
    const w = scan.files.find((f) => f.path === "a/w.bin")!;
    expect(w).toEqual({ path: "a/w.bin", size: weights.length, sha256: sha256(weights) });
    expect(scan.files.find((f) => f.path === "é")).toEqual({
      path: "é",
      size: 2,
      sha256: sha256("é"),
    });
    expect(scan.totalBytes).toBe(scan.files.reduce((sum, f) => sum + f.size, 0));
  });

  it("scans an empty folder", async () => {
    expect(await scanFolder({ folder: await scratch() })).toEqual({
      files: [],
      directories: [],
      totalBytes: 0,
      fingerprints: new Map(),
    });
  });

  it("refuses a symlink, naming its path", async () => {
    const folder = await scratch();
    await mkdir(path.join(folder, "sub"));
    await writeFile(path.join(folder, "sub", "real.txt"), "x");
    await symlink("real.txt", path.join(folder, "sub", "link.txt"));
    await expectValidationError(
      scanFolder({ folder }),
      /sub\/link\.txt": it is a symbolic link; a checkpoint folder may hold only regular files and directories/,
    );
  });

  it("refuses a symlink to a directory and a dangling one", async () => {
    const folder = await scratch();
    await symlink("/etc", path.join(folder, "etc"));
    await expectValidationError(scanFolder({ folder }), /etc": it is a symbolic link/);
    const other = await scratch();
    await symlink("/does/not/exist", path.join(other, "dangling"));
    await expectValidationError(scanFolder({ folder: other }), /dangling": it is a symbolic link/);
  });

  it("refuses a FIFO and a socket", async () => {
    const folder = await scratch();
    await run("mkfifo", [path.join(folder, "pipe")]);
    await expectValidationError(scanFolder({ folder }), /pipe": it is a FIFO/);

    const other = await scratch();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(other, "sock"), resolve));
    try {
      await expectValidationError(scanFolder({ folder: other }), /sock": it is a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses a device when it can make one", async () => {
    const folder = await scratch();
    const made = await run("mknod", [path.join(folder, "null"), "c", "1", "3"]).then(
      () => true,
      () => false,
    );
    if (!made) return; // not root: covered by the extraction tests instead
    await expectValidationError(scanFolder({ folder }), /null": it is a character device/);
  });

  it("refuses names an archive could not carry safely", async () => {
    for (const name of ["back\\slash", "C:drive", "new\nline"]) {
      const folder = await scratch();
      await writeFile(path.join(folder, name), "x");
      await expectValidationError(
        scanFolder({ folder }),
        /(backslash|drive letter|control character)/,
      );
    }
  });

  it("follows the folder itself when it is a symlink", async () => {
    const real = await scratch();
    await writeFile(path.join(real, "a.txt"), "a");
    const linkDir = await scratch();
    await symlink(real, path.join(linkDir, "model"));
    const scan = await scanFolder({ folder: path.join(linkDir, "model") });
    expect(scan.files.map((f) => f.path)).toEqual(["a.txt"]);
  });

  it("refuses a missing folder or a file", async () => {
    const dir = await scratch();
    await expectValidationError(
      scanFolder({ folder: path.join(dir, "missing") }),
      /Cannot scan folder ".*missing": ENOENT/,
    );
    await writeFile(path.join(dir, "file"), "x");
    await expectValidationError(
      scanFolder({ folder: path.join(dir, "file") }),
      /file": it is not a directory/,
    );
  });

  it("honors its signal", async () => {
    const folder = await scratch();
    await writeFile(path.join(folder, "a.txt"), "a");
    const error = await scanFolder({ folder, signal: AbortSignal.abort() }).catch((e: Error) => e);
    expect(CancelledError.isInstance(error)).toBe(true);
  });
});
