import { ConflictError } from "@trainable/core";

/** A conditional write (`ifNoneMatch: "*"` or `ifMatch`) did not hold. */
export class PreconditionFailedError extends ConflictError {
  readonly key: string;
  constructor(key: string, message = `[storage] Precondition failed for key "${key}"`) {
    super(message);
    this.name = "PreconditionFailedError";
    this.key = key;
  }
}
