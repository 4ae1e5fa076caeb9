import { ValidationError } from "@trainable/core";

/**
 * A `ValidationError` for one bad option or argument, e.g.
 * `[storage] [s3] Invalid option "partSize": must be an integer >= 5242880`.
 */
export function optionError(component: string, field: string, problem: string): ValidationError {
  return new ValidationError(`[storage] [${component}] Invalid option "${field}": ${problem}`, {
    issues: [{ path: field, message: problem }],
  });
}

/** A `ValidationError` for a required option that is missing. */
export function requiredOptionError(component: string, field: string): ValidationError {
  return new ValidationError(`[storage] [${component}] Missing required option "${field}"`, {
    issues: [{ path: field, message: "is required" }],
  });
}
