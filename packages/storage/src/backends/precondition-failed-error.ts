import { ConflictError } from "@trainable/core";

const marker = "trainable.error.PreconditionFailedError";
const symbol = Symbol.for(marker);

/** A conditional write (`ifNoneMatch: "*"` or `ifMatch`) did not hold. */
export class PreconditionFailedError extends ConflictError {
  readonly [symbol] = true;
  readonly key: string;

  constructor(key: string, message = `[storage] Precondition failed for key "${key}"`) {
    super(message);
    this.name = "PreconditionFailedError";
    this.key = key;
  }

  static override isInstance(error: unknown): error is PreconditionFailedError {
    if (error == null || typeof error !== "object") return false;
    return (error as Record<symbol, unknown>)[Symbol.for(marker)] === true;
  }
}
