import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.IntegrityError";
const symbol = Symbol.for(marker);

/** Stored data is corrupt, truncated, tampered with or hostile: a digest, size or archive check failed. */
export class IntegrityError extends TrainableError {
  readonly [symbol] = true;

  constructor(message: string, options: TrainableErrorOptions = {}) {
    super("INTEGRITY", message, options);
    this.name = "IntegrityError";
  }

  static override isInstance(error: unknown): error is IntegrityError {
    return TrainableError.hasMarker(error, marker);
  }
}
