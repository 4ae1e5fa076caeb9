import { randomBytes } from "node:crypto";
import { link, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { errno, mapLimit } from "@trainable/internal-node";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";
import { readIssuedTaskFile, recordIds } from "./issued-task-file.js";
import type { IssuedTask } from "./issued-tasks.js";

/** A record being removed: `{taskId}.json.{random}.pruning` (not listed: it ends in `.pruning`). */
const CLAIM = /^(.+)\.json\.[0-9a-f]+\.pruning$/;
/** When the folder was last pruned, by any server on it: `{ prunedAt }`. */
const MARKER = ".pruned";
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
    task?.endedAt !== undefined && Date.parse(task.endedAt) <= cutoff;

  const ids = recordIds(names);
  const records = (
    await mapLimit(ids, READ_CONCURRENCY, (id) => readIssuedTaskFile(join(dir, `${id}.json`), id))
  ).filter((t): t is IssuedTask => t !== undefined);
  const ended = records
    .filter((t) => t.endedAt !== undefined)
    .sort(
      (a, b) =>
        Date.parse(a.endedAt as string) - Date.parse(b.endedAt as string) ||
        (a.taskId < b.taskId ? -1 : 1),
    );
  // Sorted by end, the expired ones come first: remove those, or more to get within maxTasks.
  const count = Math.max(ended.filter(expired).length, records.length - options.maxTasks);
  const removed: string[] = [];
  for (const task of ended.slice(0, Math.max(0, count))) {
    if (await removeIfUnchanged(dir, task)) removed.push(task.taskId);
  }
  await removeLeftClaims(dir, names, expired);
  return { removed };
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
 * Removes `{dir}/{seen.taskId}.json` if it is still the ended record `seen` (same `endedAt`;
 * an ended record never changes its end, a new training under that id has none or a later
 * one). True when this call removed it.
 */
export async function removeIfUnchanged(dir: string, seen: IssuedTask): Promise<boolean> {
  const file = join(dir, `${seen.taskId}.json`);
  const claim = `${file}.${randomBytes(8).toString("hex")}.pruning`;
  try {
    await rename(file, claim);
  } catch (error) {
    if (errno(error) === "ENOENT") return false; // removed meanwhile (by another prune)
    throw error;
  }
  const claimed = await readIssuedTaskFile(claim, seen.taskId);
  if (claimed?.endedAt !== undefined && claimed.endedAt === seen.endedAt) {
    await rm(claim, { force: true });
    return true;
  }
  // Written again since the scan: put it back, unless a newer record has taken its place.
  try {
    await link(claim, file);
  } catch (error) {
    if (errno(error) !== "EEXIST" && errno(error) !== "ENOENT") throw error;
  }
  await rm(claim, { force: true });
  return false;
}

/** Deletes the claims a stopped prune left behind, when the record they hold is expired. */
async function removeLeftClaims(
  dir: string,
  names: string[],
  expired: (task: IssuedTask | undefined) => boolean,
): Promise<void> {
  for (const name of names) {
    const taskId = CLAIM.exec(name)?.[1];
    if (taskId === undefined) continue;
    if (expired(await readIssuedTaskFile(join(dir, name), taskId))) {
      await rm(join(dir, name), { force: true });
    }
  }
}
