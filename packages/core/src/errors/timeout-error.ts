import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.TimeoutError";
const symbol = Symbol.for(marker);

/** An operation (e.g. an external training job) did not finish in the time allowed. */
export class TimeoutError extends TrainableError {
  readonly [symbol] = true;

  constructor(message: string, options: TrainableErrorOptions = {}) {
    super("TIMEOUT", message, options);
    this.name = "TimeoutError";
  }

  static override isInstance(error: unknown): error is TimeoutError {
    return TrainableError.hasMarker(error, marker);
  }
}
