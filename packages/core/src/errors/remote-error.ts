import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.RemoteError";
const symbol = Symbol.for(marker);

/** A remote store or service failed. `retryable` says whether trying again may help. */
export class RemoteError extends TrainableError {
  readonly [symbol] = true;
  readonly retryable: boolean;
  readonly status?: number;

  constructor(
    message: string,
    options: TrainableErrorOptions & { retryable?: boolean; status?: number } = {},
  ) {
    super("REMOTE", message, options);
    this.name = "RemoteError";
    this.retryable = options.retryable ?? false;
    this.status = options.status;
  }

  static override isInstance(error: unknown): error is RemoteError {
    return TrainableError.hasMarker(error, marker);
  }
}
