import type { BigIntStats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { CancelledError, type CheckpointFile } from "@trainable/core";
import { errno, mapLimit } from "@trainable/internal-node";
import { sha256File } from "../util/sha256-file.js";
import {
  type FileFingerprint,
  fingerprintOf,
  nativePath,
  sameFingerprint,
  settledStats,
} from "./file-fingerprint.js";

/**
 * How thoroughly an entry is checked before it is served:
 * - `"stat"`: every file's `lstat` fingerprint (size, inode, mtime, ctime) against the one
 *   recorded when its content was last verified, and no extra files; a file whose fingerprint
 *   differs is hashed (and its fingerprint renewed when the content is intact). O(files)
 *   syscalls, whatever the checkpoint size.
 * - `"size"`: sizes only (a few `lstat`s; misses a same-size change).
 * - `"full"`: the sha256 of every file, and no extra files (~1.4 s/GiB).
 *
 * `"stat"` and `"full"` also check the directories, when the manifest's are given: none extra,
 * none missing.
 */
export type VerifyLevel = "stat" | "size" | "full";

export type VerifyResult =
  | {
      ok: true;
      /**
       * Set when the entry is intact but some fingerprints were missing or out of date (the
       * files were hashed): the fingerprints to record in the marker now.
       */
      fingerprints?: FileFingerprint[];
    }
  | { ok: false; reason: string };

const SAFE_SEGMENT = /^(?!\.{1,2}$)[^/\\\0]+$/;

/** A manifest path is relative, `/`-separated, with no `.`/`..`/empty segments. */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 4096) return false;
  return path.split("/").every((segment) => SAFE_SEGMENT.test(segment));
}

/** Every file (`\0`-prefixed when not a regular file) and every directory under `root`. */
async function walkFolder(
  root: string,
  rel = "",
  out: { files: string[]; directories: string[] } = { files: [], directories: [] },
): Promise<{ files: string[]; directories: string[] }> {
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const entry of entries) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      out.directories.push(path);
      await walkFolder(root, path, out);
    } else out.files.push(entry.isFile() ? path : `\0${path}`);
  }
  return out;
}

/** The first file missing, not regular or of another size; fills `infos` with their stats. */
async function firstSizeProblem(
  dir: string,
  files: readonly CheckpointFile[],
  infos: Array<BigIntStats | undefined>,
): Promise<string | undefined> {
  const problems = await mapLimit(files, 16, async (file, i) => {
    try {
      const info = await lstat(nativePath(dir, file.path), { bigint: true });
      if (!info.isFile()) return `${file.path} is not a regular file`;
      if (info.size !== BigInt(file.size))
        return `${file.path} has ${info.size} bytes, expected ${file.size}`;
      infos[i] = info;
      return undefined;
    } catch (error) {
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") return `${file.path} is missing`;
      throw error;
    }
  });
  return problems.find((p) => p !== undefined);
}

/** An entry of the folder the manifest does not list (or, with `directories`, one missing). */
async function layoutProblem(
  dir: string,
  files: readonly CheckpointFile[],
  directories: readonly string[] | undefined,
): Promise<string | undefined> {
  const expected = new Set(files.map((f) => f.path));
  const found = await walkFolder(dir);
  for (const path of found.files) {
    if (path.startsWith("\0")) return `${path.slice(1)} is not a regular file`;
    if (!expected.has(path)) return `${path} is not part of the checkpoint`;
  }
  if (!directories) return undefined;
  const expectedDirs = new Set(directories);
  for (const path of found.directories) {
    if (!expectedDirs.has(path)) return `directory ${path} is not part of the checkpoint`;
  }
  const foundDirs = new Set(found.directories);
  for (const path of directories) {
    if (!foundDirs.has(path)) return `directory ${path} is missing`;
  }
  return undefined;
}

/**
 * Checks an extracted checkpoint folder against its manifest (see {@link VerifyLevel}). With
 * `directories` (the manifest's), levels `"stat"` and `"full"` also check that the folder
 * holds exactly those directories.
 * `fingerprints` are the marker's; `probeDir` is a scratch folder on the same file system
 * (outside `dir`), used to read the file system's clock before fingerprinting a hashed file.
 * `onHashed` is told the bytes of every file hashed.
 */
export async function verifyEntry(options: {
  dir: string;
  files: readonly CheckpointFile[];
  directories?: readonly string[];
  level: VerifyLevel;
  fingerprints?: readonly FileFingerprint[];
  probeDir?: string;
  signal?: AbortSignal;
  onHashed?: (bytes: number) => void;
}): Promise<VerifyResult> {
  const { dir, files, level } = options;
  for (const path of [...files.map((f) => f.path), ...(options.directories ?? [])]) {
    if (!isSafeRelativePath(path))
      return { ok: false, reason: `unsafe path ${JSON.stringify(path)}` };
  }
  try {
    const info = await lstat(dir);
    if (!info.isDirectory()) return { ok: false, reason: "its folder is not a directory" };
  } catch (error) {
    if (errno(error) === "ENOENT") return { ok: false, reason: "its folder is missing" };
    throw error;
  }
  const infos: Array<BigIntStats | undefined> = new Array(files.length);
  const sizeProblem = await firstSizeProblem(dir, files, infos);
  if (sizeProblem) return { ok: false, reason: sizeProblem };
  if (level === "size") return { ok: true };

  const layout = await layoutProblem(dir, files, options.directories);
  if (layout) return { ok: false, reason: layout };

  const recorded = new Map<string, FileFingerprint>();
  for (const f of options.fingerprints ?? []) recorded.set(f.path, f);
  const current = files.map((file, i) => fingerprintOf(file.path, infos[i] as BigIntStats));
  const stale = files
    .map((_, i) => i)
    .filter((i) => {
      const seen = recorded.get((files[i] as CheckpointFile).path);
      return seen === undefined || !sameFingerprint(seen, current[i] as FileFingerprint);
    });
  const toHash = level === "full" ? files.map((_, i) => i) : stale;
  if (toHash.length === 0) return { ok: true };

  // Fingerprints taken after the clock passed each file's ctime, before hashing it: if the
  // hash matches and the file did not change meanwhile, they describe verified content.
  let settled: Array<BigIntStats | undefined> = [];
  if (options.probeDir) {
    try {
      settled = await settledStats(
        dir,
        toHash.map((i) => (files[i] as CheckpointFile).path),
        options.probeDir,
        options.signal,
      );
    } catch (error) {
      const code = errno(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        return { ok: false, reason: "a file disappeared while being verified" };
      }
      // The clock could not be read (e.g. the cache folder is read-only): hash, but renew
      // no fingerprint. A cancellation is not swallowed.
      if (CancelledError.isInstance(error) || !code?.startsWith("E")) throw error;
      settled = [];
    }
  }
  const hashProblems = await mapLimit(toHash, 2, async (i, k) => {
    const file = files[i] as CheckpointFile;
    const path = nativePath(dir, file.path);
    const before = settled[k];
    if (before && !before.isFile()) return `${file.path} is not a regular file`;
    const { sha256, size } = await sha256File(path, options.signal);
    options.onHashed?.(size);
    if (size !== file.size) return `${file.path} changed size while being read`;
    if (sha256 !== file.sha256) return `${file.path} does not match its sha256`;
    if (before) {
      const after = await lstat(path, { bigint: true });
      const fingerprint = fingerprintOf(file.path, before);
      if (!sameFingerprint(fingerprint, fingerprintOf(file.path, after))) {
        return `${file.path} changed while being verified`;
      }
      current[i] = fingerprint;
    }
    return undefined;
  });
  const hashProblem = hashProblems.find((p) => p !== undefined);
  if (hashProblem) return { ok: false, reason: hashProblem };
  // Renew the fingerprints of the files hashed (settled ones only) and keep the rest.
  const hashedAt = new Map(toHash.map((i, k) => [i, k]));
  const renewed: FileFingerprint[] = [];
  let changed = false;
  files.forEach((file, i) => {
    const k = hashedAt.get(i) ?? -1;
    if (k >= 0 && settled[k]) {
      renewed.push(current[i] as FileFingerprint);
      const seen = recorded.get(file.path);
      if (!seen || !sameFingerprint(seen, current[i] as FileFingerprint)) changed = true;
    } else if (k < 0) {
      renewed.push(current[i] as FileFingerprint);
    } else if (recorded.has(file.path)) {
      changed = true; // hashed but not settled: drop its out-of-date fingerprint
    }
  });
  return changed ? { ok: true, fingerprints: renewed } : { ok: true };
}
