import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.NotFoundError";
const symbol = Symbol.for(marker);

/** A handle, checkpoint, instance or cache entry does not exist. */
export class NotFoundError extends TrainableError {
  readonly [symbol] = true;

  constructor(message: string, options: TrainableErrorOptions = {}) {
    super("NOT_FOUND", message, options);
    this.name = "NotFoundError";
  }

  static override isInstance(error: unknown): error is NotFoundError {
    return TrainableError.hasMarker(error, marker);
  }
}
