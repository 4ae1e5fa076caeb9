import { CancelledError, RemoteError } from "@trainable/core";
import { waitForLock } from "@trainable/internal-node";

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

/**
 * Runs `fn` while holding the cross-process lock file at `lockPath` (the shared lock of
 * `@trainable/internal-node`: `O_EXCL`, broken when its holder died or it went stale).
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: FileLockOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { signal } = options;
  const prefix = `[storage] [${options.component}]`;
  CancelledError.throwIfAborted(signal, `${prefix} Waiting for the lock`);
  const lock = await waitForLock(lockPath, {
    staleMs: options.staleMs ?? 60_000,
    timeoutMs,
    signal,
  }).catch((error: unknown) => {
    CancelledError.throwIfAborted(signal, `${prefix} Waiting for the lock`);
    throw error;
  });
  if (lock === undefined) {
    throw new RemoteError(
      `${prefix} Timed out after ${timeoutMs} ms waiting for the lock on ${options.what}; another writer holds it`,
      { retryable: true },
    );
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
