import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { CancelledError, RemoteError } from "@trainable/core";

export interface FileLockOptions {
  /** For messages: `[storage] [<component>] …`. */
  component: string;
  /** What is locked, for messages (a key, never a credential). */
  what: string;
  /**
   * A lock older than this is stale whoever holds it (default 60 000 ms). Critical sections
   * are a `stat` and a `rename`, so a live holder never comes close.
   */
  staleMs?: number;
  /** How long to wait for the lock before failing with a retryable `RemoteError` (default 30 000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface LockContent {
  pid: number;
  host: string;
  nonce: string;
}

const HOST = hostname();

/** True when a process with this pid runs on this machine (or exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parse(text: string): LockContent | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (typeof value.pid === "number" && typeof value.host === "string") {
      return { pid: value.pid, host: value.host, nonce: String(value.nonce) };
    }
  } catch {
    // empty (a holder between create and write) or garbage: judged by age alone
  }
  return undefined;
}

async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(lockPath, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/** Reads the current lock; `undefined` when gone. `stale` says whether it may be broken. */
async function inspect(
  lockPath: string,
  staleMs: number,
): Promise<{ stale: boolean; ino: number; text: string } | undefined> {
  try {
    const st = await stat(lockPath);
    const text = await readFile(lockPath, "utf8");
    const owner = parse(text);
    const age = Date.now() - st.mtimeMs;
    // An unreadable lock is a holder that died between creating and writing it (microseconds).
    const unreadable = owner === undefined && age > 2_000;
    const dead = owner !== undefined && owner.host === HOST && !isAlive(owner.pid);
    return { stale: age > staleMs || unreadable || dead, ino: st.ino, text };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Breaks a stale lock without ever removing a live one by mistake in the common case: the lock
 * is first renamed to a unique name (atomic), then checked to be the very file judged stale; if
 * another process replaced it in between, it is put back with `link` (which cannot overwrite).
 */
async function breakStale(lockPath: string, judged: { ino: number; text: string }): Promise<void> {
  const moved = `${lockPath}.~broken-${randomBytes(6).toString("hex")}`;
  try {
    await rename(lockPath, moved);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    const st = await stat(moved);
    const text = await readFile(moved, "utf8");
    if (st.ino !== judged.ino || text !== judged.text) {
      await link(moved, lockPath).catch(() => {});
    }
  } finally {
    await unlink(moved).catch(() => {});
  }
}

/**
 * Runs `fn` while holding an exclusive lock file at `lockPath` (created with `O_EXCL`), shared
 * by every process on the machine (and on hosts sharing the filesystem, if it honours `O_EXCL`).
 * A lock whose holder died (same host, pid gone) or that is older than `staleMs` is broken.
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: FileLockOptions,
): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const nonce = randomBytes(12).toString("hex");
  const content = JSON.stringify({ pid: process.pid, host: HOST, nonce });
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    CancelledError.throwIfAborted(
      options.signal,
      `[storage] [${options.component}] Waiting for the lock`,
    );
    if (await tryCreate(lockPath, content)) break;
    const current = await inspect(lockPath, staleMs);
    if (current?.stale) {
      await breakStale(lockPath, current);
      continue;
    }
    if (Date.now() > deadline) {
      throw new RemoteError(
        `[storage] [${options.component}] Timed out after ${timeoutMs} ms waiting for the lock on ${options.what}; another writer holds it`,
        { retryable: true },
      );
    }
    const delay = Math.min(50, 1 + attempt * 2) * (0.5 + Math.random());
    await sleep(delay, undefined, { signal: options.signal }).catch(() => {});
  }
  try {
    return await fn();
  } finally {
    const current = await readFile(lockPath, "utf8").catch(() => undefined);
    if (current === content) await unlink(lockPath).catch(() => {});
  }
}
