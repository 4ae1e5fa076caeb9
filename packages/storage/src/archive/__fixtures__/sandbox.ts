import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function tempDir(prefix = "trainable-archive-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A parent folder holding a `sentinel/` directory with one file; extractions target
 * `parent/out`. `expectUntouched` checks nothing else appeared anywhere in the parent.
 */
export interface Sandbox {
  parent: string;
  target: string;
  sentinel: string;
  expectUntouched(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const parent = await tempDir("trainable-extract-");
  const sentinel = path.join(parent, "sentinel");
  await mkdir(sentinel);
  await writeFile(path.join(sentinel, "keep.txt"), "original");
  return {
    parent,
    target: path.join(parent, "out"),
    sentinel,
    async expectUntouched() {
      expect(await readdir(parent)).toEqual(["sentinel"]);
      expect(await readdir(sentinel)).toEqual(["keep.txt"]);
      expect(await readFile(path.join(sentinel, "keep.txt"), "utf8")).toBe("original");
    },
    cleanup: () => rm(parent, { recursive: true, force: true }),
  };
}

/** Every file under `root` with its content, keyed by `/` path; directories map to null. */
export async function readTree(root: string): Promise<Map<string, string | null>> {
  const tree = new Map<string, string | null>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const childRel = rel === "" ? dirent.name : `${rel}/${dirent.name}`;
      const abs = path.join(dir, dirent.name);
      if (dirent.isDirectory()) {
        tree.set(childRel, null);
        await walk(abs, childRel);
      } else {
        tree.set(childRel, (await readFile(abs)).toString("base64"));
      }
    }
  };
  await walk(root, "");
  return tree;
}
