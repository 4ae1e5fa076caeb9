import type { BigIntStats } from "node:fs";
import { lstat, mkdir, unlink, writeFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { mapLimit } from "@trainable/internal-node";
import { sleep } from "../util/sleep.js";
import { ownedName } from "./entry-paths.js";

/**
 * What `verify: "stat"` compares: a file's size, inode and change times (nanoseconds, as
 * decimal strings). `ctime` is set by the kernel on every write, chmod, link, rename or
 * `utimes` and cannot be set by users, so any change made through the file system after the
 * fingerprint was taken gives a different fingerprint.
 */
export interface FileFingerprint {
  path: string;
  size: number;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

export function fingerprintOf(path: string, info: BigIntStats): FileFingerprint {
  return {
    path,
    size: Number(info.size),
    ino: info.ino.toString(),
    mtimeNs: info.mtimeNs.toString(),
    ctimeNs: info.ctimeNs.toString(),
  };
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return (
    a.path === b.path &&
    a.size === b.size &&
    a.ino === b.ino &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

const DIGITS = /^\d{1,40}$/;

/** True for a well-formed fingerprint (as read back from a marker). */
export function isFingerprint(value: unknown): value is FileFingerprint {
  const v = value as Partial<FileFingerprint> | null;
  return (
    !!v &&
    typeof v === "object" &&
    typeof v.path === "string" &&
    typeof v.size === "number" &&
    Number.isSafeInteger(v.size) &&
    v.size >= 0 &&
    typeof v.ino === "string" &&
    DIGITS.test(v.ino) &&
    typeof v.mtimeNs === "string" &&
    DIGITS.test(v.mtimeNs) &&
    typeof v.ctimeNs === "string" &&
    DIGITS.test(v.ctimeNs)
  );
}

export function nativePath(dir: string, path: string): string {
  return join(dir, path.split("/").join(sep));
}

/**
 * The file system's clock now: the ctime of a file created in `probeDir` (which must be on
 * the same file system as the files compared with it).
 */
async function fileSystemNow(probeDir: string): Promise<bigint> {
  await mkdir(probeDir, { recursive: true });
  const probe = join(probeDir, ownedName("probe"));
  await writeFile(probe, "");
  try {
    return (await lstat(probe, { bigint: true })).ctimeNs;
  } finally {
    await unlink(probe).catch(() => {});
  }
}

/** How long {@link settledStats} waits for the file system clock to move on. */
const SETTLE_MS = 3000;

/**
 * `lstat`s each file, but only returns a result taken after the file system's clock moved
 * past the file's ctime (undefined for a file whose ctime stays in the clock's current tick
 * for {@link SETTLE_MS}, e.g. a ctime in the future).
 *
 * Why: timestamps are coarse (a kernel tick, often 1-10 ms). A fingerprint taken within the
 * tick of the file's last change could match the file after one more change in that same
 * tick ("racy clean", as git calls it). A change after a settled `lstat` always gets a later
 * ctime, so it never matches the fingerprint.
 */
export async function settledStats(
  dir: string,
  paths: readonly string[],
  probeDir: string,
  signal?: AbortSignal,
): Promise<Array<BigIntStats | undefined>> {
  const out = new Array<BigIntStats | undefined>(paths.length);
  let pending = paths.map((_, i) => i);
  const deadline = Date.now() + SETTLE_MS;
  let delay = 1;
  for (;;) {
    const now = await fileSystemNow(probeDir);
    const infos = await mapLimit(pending, 16, (i) =>
      lstat(nativePath(dir, paths[i] as string), { bigint: true }),
    );
    const next: number[] = [];
    pending.forEach((i, k) => {
      const info = infos[k] as BigIntStats;
      if (info.ctimeNs < now) out[i] = info;
      else next.push(i);
    });
    pending = next;
    if (pending.length === 0 || Date.now() >= deadline) return out;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 100);
  }
}
