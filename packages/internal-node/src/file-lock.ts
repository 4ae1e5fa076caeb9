import { randomBytes, randomUUID } from "node:crypto";
import { link, open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { errno } from "./errno.js";
import { canCheckPid, HOST, isProcessAlive, PID_NAMESPACE } from "./is-process-alive.js";

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** The holder's pid namespace (`PID_NAMESPACE`); absent in locks of earlier versions. */
  pidNamespace?: string;
  token: string;
  createdAt: number;
}

export interface FileLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Never throws. */
  release(): Promise<void>;
}

export interface LockOptions {
  /**
   * A lock whose file has not been touched for this long is stale whoever holds it (a live
   * holder refreshes it every `staleMs / 4`).
   */
  staleMs: number;
  /** Called when a stale lock is broken, with what it held and why it was judged stale. */
  onBreak?: (info: Partial<LockInfo>, reason: string) => void;
}

export interface WaitForLockOptions extends LockOptions {
  /** Give up (resolve `undefined`) after waiting this long. */
  timeoutMs: number;
  /** Stops waiting: rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A lock file with nothing parsable in it is a holder that died between create and write. */
const UNWRITTEN_STALE_MS = 2_000;

/** The lock's text and parsed content; `undefined` when there is no lock. */
async function readLock(
  path: string,
): Promise<{ text: string; info: Partial<LockInfo> } | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockInfo> | null;
    return { text, info: parsed && typeof parsed === "object" ? parsed : {} };
  } catch {
    return { text, info: {} };
  }
}

/** Why a lock is stale, or undefined when it is (or may be) held by a live process. */
async function staleness(
  path: string,
  info: Partial<LockInfo>,
  staleMs: number,
): Promise<string | undefined> {
  if (
    canCheckPid(info.host, info.pidNamespace) &&
    typeof info.pid === "number" &&
    !isProcessAlive(info.pid)
  ) {
    return `its holder (pid ${info.pid}) is gone`;
  }
  let age: number;
  try {
    age = Date.now() - (await stat(path)).mtimeMs;
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw error;
  }
  const limit = info.token === undefined ? Math.min(staleMs, UNWRITTEN_STALE_MS) : staleMs;
  if (age > limit) return `it has not been refreshed for ${Math.round(age / 1000)} s`;
  return undefined;
}

/**
 * Removes a stale lock, unless it changed since it was judged stale: it is renamed aside
 * first (atomic, so only one breaker wins), and put back with `link` (which never overwrites)
 * if the renamed file turns out to be someone's fresh lock.
 */
async function breakLock(path: string, judgedText: string): Promise<boolean> {
  const aside = `${path}.~broken-${randomBytes(6).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errno(error) === "ENOENT") return false;
    throw error;
  }
  try {
    const moved = await readLock(aside);
    if (moved !== undefined && moved.text !== judgedText) {
      await link(aside, path).catch(() => {});
      return false;
    }
    return true;
  } finally {
    await unlink(aside).catch(() => {});
  }
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
        const current = await readLock(path);
        if (current?.info.token === info.token) await unlink(path);
      } catch {
        // Best effort: a leftover lock of a live pid is broken by staleness later.
      }
    },
  };
}

/**
 * Takes the lock at `path` if it is free: an `O_EXCL` create of a file holding pid, host, a
 * token and a timestamp, shared by every process on the machine (and by hosts sharing the
 * filesystem, if it honours `O_EXCL`). A stale lock is broken first: its holder is a dead pid
 * on this host (in this pid namespace), or it has not been refreshed for `staleMs`. Returns `undefined` when a live
 * process holds it. The holder refreshes the file's mtime until it releases it.
 */
export async function tryLock(path: string, options: LockOptions): Promise<FileLock | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const info: LockInfo = {
      pid: process.pid,
      host: HOST,
      ...(PID_NAMESPACE ? { pidNamespace: PID_NAMESPACE } : {}),
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
    const current = await readLock(path);
    if (current === undefined) continue; // released meanwhile: try again
    const reason = await staleness(path, current.info, options.staleMs);
    if (reason === undefined) return undefined;
    if (await breakLock(path, current.text)) options.onBreak?.(current.info, reason);
  }
  return undefined;
}

/**
 * Waits for the lock at `path` (see {@link tryLock}), polling with a short jittered backoff.
 * Resolves `undefined` when `timeoutMs` passed first; rejects with the signal's reason when
 * `signal` aborts.
 */
export async function waitForLock(
  path: string,
  options: WaitForLockOptions,
): Promise<FileLock | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    const lock = await tryLock(path, options);
    if (lock) return lock;
    if (Date.now() > deadline) return undefined;
    const delay = Math.min(50, 1 + attempt * 2) * (0.5 + Math.random());
    await sleep(delay, undefined, { signal: options.signal }).catch(() => {});
  }
}
