import { CancelledError } from "@trainable/core";

/** The error an aborted signal stands for: its reason when that is an Error, else a CancelledError. */
export function abortError(signal: AbortSignal, what = "Operation"): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason;
  return new CancelledError(`[runtime] ${what} cancelled`, { cause: reason });
}

/**
 * Settles with `promise`, or rejects as soon as `signal` aborts — even when the work behind
 * `promise` ignores the signal (a stuck plugin cannot hold the caller).
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what?: string,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortError(signal, what));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
