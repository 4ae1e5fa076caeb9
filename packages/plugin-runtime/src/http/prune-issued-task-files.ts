import { randomBytes } from "node:crypto";
import { link, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { errno, exists, mapLimit } from "@trainable/internal-node";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";
import { readIssuedTaskFile, recordIds } from "./issued-task-file.js";
import type { IssuedTask } from "./issued-tasks.js";

/** A record being removed: `{taskId}.json.{random}.pruning` (not listed: it ends in `.pruning`). */
const CLAIM = /^(.+)\.json\.[0-9a-f]+\.pruning$/;
/** When the folder was last pruned, by any server on it: `{ prunedAt }`. */
const MARKER = ".pruned";
/**
 * A claim older than this (by its mtime, which a prune sets to its clock when it claims) was
 * left by a prune that stopped, and is settled by the next prune; a younger one may be a prune
 * in progress (here or on another server), which a claim outlives by milliseconds.
 */
const LEFT_CLAIM_AGE_MS = 60_000;
/** Files read at once while scanning. */
const READ_CONCURRENCY = 16;

export interface PruneIssuedTaskFilesOptions {
  /** The records' folder (`{dir}/{taskId}.json`). */
  dir: string;
  now: Date;
  /** Ended records whose `endedAt` is this old or older are removed. */
  endedRetentionMs: number;
  /** Ended records beyond this count of records are removed, oldest `endedAt` first. */
  maxTasks: number;
  /**
   * Skip when the folder's marker says it was pruned less than this long ago (by this server
   * or another on the same folder). Default 0: always prune.
   */
  intervalMs?: number;
}

/**
 * Removes the ended records of `dir` past their retention, then the oldest ended ones while
 * there are more than `maxTasks` records. A record without `endedAt` (a training that may
 * still be running) is never removed, even when those alone exceed `maxTasks`.
 *
 * Safe with several servers on one folder: each record is removed through a claim (renamed
 * to a name of this prune's own, re-read, and deleted only if it is still the ended record
 * the scan saw — else put back), so a record written again under the same id since the scan
 * survives; two prunes at once remove each record once. Returns the task ids removed.
 */
export async function pruneIssuedTaskFiles(
  options: PruneIssuedTaskFilesOptions,
): Promise<{ removed: string[]; skipped?: true }> {
  const { dir, now } = options;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errno(error) === "ENOENT") return { removed: [] };
    throw error;
  }
  if (await prunedRecently(dir, now, options.intervalMs ?? 0))
    return { removed: [], skipped: true };
  await writeJsonAtomic(join(dir, MARKER), { prunedAt: now.toISOString() });
  const cutoff = now.getTime() - options.endedRetentionMs;
  const expired = (task: IssuedTask | undefined) =>
    task?.endedAt !== undefined && endedMs(task) <= cutoff;

  const ids = recordIds(names);
  const records = (
    await mapLimit(ids, READ_CONCURRENCY, (id) => readIssuedTaskFile(join(dir, `${id}.json`), id))
  ).filter((t): t is IssuedTask => t !== undefined);
  const ended = records
    .filter((t) => t.endedAt !== undefined)
    .sort((a, b) => endedMs(a) - endedMs(b) || (a.taskId < b.taskId ? -1 : 1));
  // Sorted by end, the expired ones come first: remove those, or more to get within maxTasks.
  const count = Math.max(ended.filter(expired).length, records.length - options.maxTasks);
  const removed: string[] = [];
  for (const task of ended.slice(0, Math.max(0, count))) {
    if (await removeIfUnchanged(dir, task, now)) removed.push(task.taskId);
  }
  await settleLeftClaims(dir, names, now, expired);
  return { removed };
}

/** When an ended record ended, in ms; an `endedAt` that is not a date counts as the oldest (0). */
function endedMs(task: IssuedTask): number {
  const at = Date.parse(task.endedAt as string);
  return Number.isNaN(at) ? 0 : at;
}

/** Whether the folder's marker says a prune started within `intervalMs` before `now`. */
async function prunedRecently(dir: string, now: Date, intervalMs: number): Promise<boolean> {
  if (intervalMs <= 0) return false;
  const marker = (await readJsonFile(join(dir, MARKER)).catch(() => undefined)) as
    | { prunedAt?: unknown }
    | undefined;
  const at = typeof marker?.prunedAt === "string" ? Date.parse(marker.prunedAt) : Number.NaN;
  // A marker from the future (another server's clock ahead) does not hold pruning off.
  return at <= now.getTime() && now.getTime() - at < intervalMs;
}

/**
 * Removes the record of `taskId` from `dir` for good: the file, any claim of it a prune holds
 * (which that prune would put back, were it written again since its scan), then the file
 * again (put back before its claim was removed). A prune that claims it afterwards finds it
 * gone.
 */
export async function removeIssuedTaskFile(dir: string, taskId: string): Promise<void> {
  const file = join(dir, `${taskId}.json`);
  await rm(file, { force: true });
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errno(error) === "ENOENT") return;
    throw error;
  }
  const claims = names.filter((name) => CLAIM.exec(name)?.[1] === taskId);
  if (claims.length === 0) return;
  for (const name of claims) await rm(join(dir, name), { force: true });
  await rm(file, { force: true });
}

/**
 * Removes `{dir}/{seen.taskId}.json` if it is still the ended record `seen` (same `endedAt`;
 * an ended record never changes its end, a new training under that id has none or a later
 * one). True when this call removed it.
 */
export async function removeIfUnchanged(
  dir: string,
  seen: IssuedTask,
  now: Date = new Date(),
): Promise<boolean> {
  const file = join(dir, `${seen.taskId}.json`);
  const claim = `${file}.${randomBytes(8).toString("hex")}.pruning`;
  try {
    await rename(file, claim);
    // Date the claim (a rename keeps the record's mtime) so that another prune does not take
    // it for one a stopped prune left. Undated, one may put it back: the record is then kept
    // until a later prune.
    await utimes(claim, now, now).catch((error: unknown) => {
      if (errno(error) === "ENOENT") throw error;
    });
  } catch (error) {
    // Removed meanwhile by another prune; or the claim settled by one (its clock ahead of ours).
    if (errno(error) === "ENOENT") return false;
    throw error;
  }
  const claimed = await readIssuedTaskFile(claim, seen.taskId);
  if (claimed?.endedAt !== undefined && claimed.endedAt === seen.endedAt) {
    await rm(claim, { force: true });
    return true;
  }
  // Written again since the scan: put it back, unless a newer record has taken its place.
  await putBack(claim, file);
  return false;
}

/**
 * Moves the record in `claim` back to `file`, unless a newer record is there (then drops the
 * claim). Through `link`, which never replaces a file; where the filesystem has no hard links,
 * through `rename` when `file` is missing (a record written between that check and the rename
 * would be replaced by the claimed one: a race of microseconds, on such filesystems only).
 * Throws, leaving the claim for the next prune to settle, when neither can be done.
 */
async function putBack(claim: string, file: string): Promise<void> {
  try {
    await link(claim, file);
  } catch (error) {
    const code = errno(error);
    if (code === "ENOENT") return; // the claim is gone: settled by another prune
    if (code !== "EEXIST" && !(await exists(file))) {
      try {
        await rename(claim, file);
      } catch (renameError) {
        if (errno(renameError) !== "ENOENT") throw renameError;
      }
      return;
    }
  }
  await rm(claim, { force: true });
}

/**
 * Settles the claims a stopped prune left behind (listed in `names`, read before this prune
 * claimed anything): one holding an expired record is deleted; one older than
 * `LEFT_CLAIM_AGE_MS` holding anything else — a record written again between that prune's scan
 * and its claim — is put back (or dropped, when a newer record has taken its place). A younger
 * one is left alone: it may be a prune in progress, which settles it itself.
 */
async function settleLeftClaims(
  dir: string,
  names: string[],
  now: Date,
  expired: (task: IssuedTask | undefined) => boolean,
): Promise<void> {
  for (const name of names) {
    const taskId = CLAIM.exec(name)?.[1];
    if (taskId === undefined) continue;
    const claim = join(dir, name);
    if (expired(await readIssuedTaskFile(claim, taskId))) {
      await rm(claim, { force: true });
      continue;
    }
    let claimedAt: number;
    try {
      claimedAt = (await stat(claim)).mtimeMs;
    } catch (error) {
      if (errno(error) === "ENOENT") continue; // settled meanwhile
      throw error;
    }
    if (now.getTime() - claimedAt >= LEFT_CLAIM_AGE_MS) {
      await putBack(claim, join(dir, `${taskId}.json`));
    }
  }
}
