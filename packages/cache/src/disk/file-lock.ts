import { randomUUID } from "node:crypto";
import { link, open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import { errno } from "../util/errno.js";
import { isProcessAlive } from "../util/is-process-alive.js";
import { HOST } from "./entry-paths.js";

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  token: string;
  createdAt: number;
}

export interface FileLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Never throws. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** A lock whose file has not been touched for this long is stale (its holder heartbeats). */
  staleMs: number;
  /** Called when a stale lock is broken. */
  onBreak?: (info: Partial<LockInfo> | undefined, reason: string) => void;
}

async function readLockInfo(path: string): Promise<Partial<LockInfo> | undefined> {
  try {
    const text = await readFile(path, "utf8");
    if (text.trim() === "") return {};
    const parsed = JSON.parse(text) as Partial<LockInfo>;
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    if (error instanceof SyntaxError) return {};
    throw error;
  }
}

/** Why a lock is stale, or undefined when it is (or may be) held by a live process. */
async function staleness(
  path: string,
  info: Partial<LockInfo>,
  staleMs: number,
): Promise<string | undefined> {
  if (info.host === HOST && typeof info.pid === "number" && !isProcessAlive(info.pid)) {
    return `its holder (pid ${info.pid}) is gone`;
  }
  try {
    const age = Date.now() - (await stat(path)).mtimeMs;
    if (age > staleMs) return `it has not been refreshed for ${Math.round(age / 1000)} s`;
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw error;
  }
  return undefined;
}

/**
 * Takes the lock at `path` if it is free (an `O_EXCL` create holding pid, host, a token and a
 * timestamp), breaking it first when it is stale: its holder is a dead pid on this host, or it
 * has not been refreshed for `staleMs` (a live holder refreshes it every `staleMs / 4`).
 * Returns `undefined` when a live process holds it.
 *
 * The lock only avoids duplicate downloads; correctness never depends on it.
 */
export async function tryLock(path: string, options: LockOptions): Promise<FileLock | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const info: LockInfo = {
      pid: process.pid,
      host: HOST,
      token: randomUUID(),
      createdAt: Date.now(),
    };
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(JSON.stringify(info));
      } finally {
        await handle.close();
      }
      return heldLock(path, info, options.staleMs);
    } catch (error) {
      if (errno(error) !== "EEXIST") throw error;
    }
    const current = await readLockInfo(path);
    if (current === undefined) continue; // released meanwhile: try again
    const reason = await staleness(path, current, options.staleMs);
    if (reason === undefined) return undefined;
    if (await breakLock(path, current)) options.onBreak?.(current, reason);
  }
  return undefined;
}

/**
 * Removes a stale lock, unless it changed since it was judged stale: it is renamed aside
 * first (atomic, so only one breaker wins), and put back if the renamed file turns out to
 * be someone's fresh lock.
 */
async function breakLock(path: string, judged: Partial<LockInfo>): Promise<boolean> {
  const aside = `${path}.broken-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errno(error) === "ENOENT") return false;
    throw error;
  }
  const moved = await readLockInfo(aside);
  if (moved && moved.token !== judged.token) {
    // We took a lock created after our check: give it back (unless another one appeared).
    await link(aside, path).catch(() => {});
    await unlink(aside).catch(() => {});
    return false;
  }
  await unlink(aside).catch(() => {});
  return true;
}

function heldLock(path: string, info: LockInfo, staleMs: number): FileLock {
  const beat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => {});
    },
    Math.max(10, Math.floor(staleMs / 4)),
  );
  beat.unref();
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      try {
        const current = await readLockInfo(path);
        if (current?.token === info.token) await unlink(path);
      } catch {
        // Best effort: a leftover lock of a live pid is broken by staleness later.
      }
    },
  };
}
