import { ValidationError } from "@trainable/core";

/** Overall timeout of a training when `train` is given none: 24 h. */
export const DEFAULT_TIMEOUT_MS = 24 * 60 * 60_000;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Checks a training timeout: a positive number of milliseconds a timer can wait. Throws a
 * `ValidationError` for `field`, prefixed with `component`.
 */
export function checkTimeout(value: number, where: { field: string; component: string }): void {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw ValidationError.forField(
      where.component,
      where.field,
      `must be a positive number of milliseconds, at most ${MAX_TIMER_MS} (about 24.8 days)`,
    );
  }
}
