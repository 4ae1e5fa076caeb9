import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.UnauthorizedError";
const symbol = Symbol.for(marker);

/**
 * A request without the credentials a server requires (a missing or wrong bearer token).
 * Nothing was done; retrying with the same credentials cannot succeed.
 */
export class UnauthorizedError extends TrainableError {
  readonly [symbol] = true;

  constructor(message: string, options: TrainableErrorOptions = {}) {
    super("UNAUTHORIZED", message, options);
    this.name = "UnauthorizedError";
  }

  static override isInstance(error: unknown): error is UnauthorizedError {
    return TrainableError.hasMarker(error, marker);
  }
}
