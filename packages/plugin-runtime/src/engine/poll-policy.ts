import { ValidationError } from "@trainable/core";

/** How the engine paces status checks of a running training. */
export interface PollPolicy {
  /** Wait before the first status check when the plugin gives no `retryAfterMs`. Default 500 ms. */
  initialDelayMs: number;
  /** Each further wait is this many times longer (exponential backoff). Default 2. */
  multiplier: number;
  /** Longest backoff wait. Default 30 s. */
  maxDelayMs: number;
  /** Shortest wait, even when the plugin asks for less. Default 10 ms. */
  minDelayMs: number;
  /** Longest wait honoured when the plugin gives `retryAfterMs`. Default 5 min. */
  maxRetryAfterMs: number;
  /** Transient failures (network, retryable remote errors) tolerated in a row. Default 5. */
  maxConsecutiveErrors: number;
  /**
   * However many failures in a row, transient ones are repeated (with backoff) until the
   * first of them is this old: a plugin server that restarts, or a network that is down for a
   * few minutes, does not fail a training that takes hours. Default 10 min; 0: count only.
   */
  unreachableForMs: number;
}

export const DEFAULT_POLL_POLICY: Readonly<PollPolicy> = {
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30_000,
  minDelayMs: 10,
  maxRetryAfterMs: 5 * 60_000,
  maxConsecutiveErrors: 5,
  unreachableForMs: 10 * 60_000,
};

/**
 * Whether to give up after the `failures`-th transient failure in a row (1-based), the first
 * of which happened at `since` (ms).
 */
export function shouldGiveUp(
  policy: PollPolicy,
  { failures, since, now }: { failures: number; since: number; now: number },
): boolean {
  return failures >= policy.maxConsecutiveErrors && now - since >= policy.unreachableForMs;
}

/** Fills and checks a partial poll policy. */
export function resolvePollPolicy(policy: Partial<PollPolicy> = {}): PollPolicy {
  const resolved = { ...DEFAULT_POLL_POLICY, ...policy };
  for (const [key, value] of Object.entries(resolved)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw ValidationError.forField(
        "runtime",
        `pollPolicy.${key}`,
        "must be a finite number >= 0",
      );
    }
  }
  if (resolved.multiplier < 1) {
    throw ValidationError.forField("runtime", "pollPolicy.multiplier", "must be >= 1");
  }
  return resolved;
}

/**
 * The wait before status check number `attempt` (0-based): the plugin's `retryAfterMs` when
 * given (bounded by `minDelayMs`..`maxRetryAfterMs`), else exponential backoff.
 */
export function nextPollDelay(policy: PollPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) {
    return Math.min(Math.max(retryAfterMs, policy.minDelayMs), policy.maxRetryAfterMs);
  }
  const backoff = policy.initialDelayMs * policy.multiplier ** attempt;
  return Math.min(Math.max(backoff, policy.minDelayMs), policy.maxDelayMs);
}
