import { TrainableError, type TrainableErrorOptions } from "./trainable-error.js";

const marker = "trainable.error.ConflictError";
const symbol = Symbol.for(marker);

/** A compare-and-swap lost: the handle moved since the caller read it. */
export class ConflictError extends TrainableError {
  readonly [symbol] = true;
  readonly expected?: string | null;
  readonly actual?: string | null;

  constructor(
    message: string,
    options: TrainableErrorOptions & { expected?: string | null; actual?: string | null } = {},
  ) {
    super("CONFLICT", message, options);
    this.name = "ConflictError";
    this.expected = options.expected;
    this.actual = options.actual;
  }

  static override isInstance(error: unknown): error is ConflictError {
    return TrainableError.hasMarker(error, marker);
  }
}
