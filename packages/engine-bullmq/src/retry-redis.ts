import type { Clock } from "@trainable/plugin-runtime";

export interface RetryRedisOptions {
  clock: Clock;
  /** Give up once the first failure is this old (ms). */
  budgetMs: number;
  /** Stop retrying now (e.g. the worker is closing): the last error is thrown. */
  stop(): boolean;
  /** Told of each failure before the next try. */
  onRetry(error: unknown): void;
}

const FIRST_DELAY_MS = 50;
const MAX_DELAY_MS = 1_000;

/**
 * Runs a Redis call, repeating it with bounded backoff (50 ms doubling to 1 s) while it
 * fails with an error — an error reply such as `OOM` (maxmemory reached), `READONLY` (a
 * replica after a failover) or `MISCONF` (snapshots failing), all of which pass — for at most
 * `budgetMs` after the first failure; then the last error is thrown. Only for calls that are
 * safe to repeat (a write of the same record).
 */
export async function retryRedis<T>(
  call: () => Promise<T>,
  options: RetryRedisOptions,
): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const now = options.clock.now().getTime();
      firstFailure ??= now;
      if (options.stop() || now - firstFailure >= options.budgetMs) throw error;
      options.onRetry(error);
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
      await options.clock.sleep(Math.min(delay, firstFailure + options.budgetMs - now));
    }
  }
}
