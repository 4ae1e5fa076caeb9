import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { CheckpointFile } from "@trainable/core";
import { expect } from "vitest";

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The manifest entry of a file with this content. */
function fileOf(filePath: string, data: Buffer | string): CheckpointFile {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return { path: filePath, size: bytes.length, sha256: sha256(bytes) };
}

/** A readable stream of `data`, in chunks of `chunkSize` bytes (default: one chunk). */
function streamOf(data: Buffer, chunkSize = data.length || 1): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  return Readable.from(chunks, { objectMode: false });
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
