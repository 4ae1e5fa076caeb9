import { lstat, readdir } from "node:fs/promises";
import { join, sep } from "node:path";
import type { CheckpointFile } from "@trainable/core";
import { errno } from "../util/errno.js";
import { mapLimit } from "../util/map-limit.js";
import { sha256File } from "../util/sha256-file.js";

/** How thoroughly an entry is checked before it is served. */
export type VerifyLevel = "size" | "full";

export type VerifyResult = { ok: true } | { ok: false; reason: string };

const SAFE_SEGMENT = /^(?!\.{1,2}$)[^/\\\0]+$/;

/** A manifest path is relative, `/`-separated, with no `.`/`..`/empty segments. */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 4096) return false;
  return path.split("/").every((segment) => SAFE_SEGMENT.test(segment));
}

async function walkFiles(root: string, rel = "", out: string[] = []): Promise<string[]> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) await walkFiles(root, path, out);
    else out.push(entry.isFile() ? path : `\0${path}`);
  }
  return out;
}

/**
 * Checks an extracted checkpoint folder against its manifest. `size`: every file is a regular
 * file (not a link) of the recorded size — a few `lstat`s, cheap at any checkpoint size.
 * `full`: also the sha256 of every file (~1.4 s/GiB) and no file that is not in the manifest.
 */
export async function verifyEntry(options: {
  dir: string;
  files: readonly CheckpointFile[];
  level: VerifyLevel;
  signal?: AbortSignal;
}): Promise<VerifyResult> {
  const { dir, files, level } = options;
  for (const file of files) {
    if (!isSafeRelativePath(file.path))
      return { ok: false, reason: `unsafe path ${JSON.stringify(file.path)}` };
  }
  try {
    const info = await lstat(dir);
    if (!info.isDirectory()) return { ok: false, reason: "its folder is not a directory" };
  } catch (error) {
    if (errno(error) === "ENOENT") return { ok: false, reason: "its folder is missing" };
    throw error;
  }
  const sizeProblems = await mapLimit(files, 16, async (file) => {
    try {
      const info = await lstat(join(dir, file.path.split("/").join(sep)));
      if (!info.isFile()) return `${file.path} is not a regular file`;
      if (info.size !== file.size)
        return `${file.path} has ${info.size} bytes, expected ${file.size}`;
      return undefined;
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return `${file.path} is missing`;
      throw error;
    }
  });
  const sizeProblem = sizeProblems.find((p) => p !== undefined);
  if (sizeProblem) return { ok: false, reason: sizeProblem };
  if (level === "size") return { ok: true };

  const expected = new Set(files.map((f) => f.path));
  for (const path of await walkFiles(dir)) {
    if (path.startsWith("\0"))
      return { ok: false, reason: `${path.slice(1)} is not a regular file` };
    if (!expected.has(path)) return { ok: false, reason: `${path} is not part of the checkpoint` };
  }
  const hashProblems = await mapLimit(files, 2, async (file) => {
    const { sha256, size } = await sha256File(
      join(dir, file.path.split("/").join(sep)),
      options.signal,
    );
    if (size !== file.size) return `${file.path} changed size while being read`;
    if (sha256 !== file.sha256) return `${file.path} does not match its sha256`;
    return undefined;
  });
  const hashProblem = hashProblems.find((p) => p !== undefined);
  return hashProblem ? { ok: false, reason: hashProblem } : { ok: true };
}
