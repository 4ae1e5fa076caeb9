import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.CancelledError";
const symbol = Symbol.for(marker);

/** The operation was cancelled through its AbortSignal. */
export class CancelledError extends TrainableError {
  readonly [symbol] = true;

  constructor(message = "Operation cancelled", options: TrainableErrorOptions = {}) {
    super("CANCELLED", message, options);
    this.name = "CancelledError";
  }

  static override isInstance(error: unknown): error is CancelledError {
    return TrainableError.hasMarker(error, marker);
  }

  /** Throws a CancelledError when `signal` is aborted. */
  static throwIfAborted(signal: AbortSignal | undefined, what = "Operation"): void {
    if (signal?.aborted) {
      throw new CancelledError(`${what} cancelled`, { cause: signal.reason });
    }
  }
}
