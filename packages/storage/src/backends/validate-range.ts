import { ValidationError } from "@trainable/core";
import { optionError } from "./option-error.js";
import type { GetOptions } from "./types.js";

export type ByteRange = NonNullable<GetOptions["range"]>;

/** Checks a `{ start, end? }` range (inclusive, non-negative integers, `end >= start`). */
export function validateRange(component: string, range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw optionError(component, "range.start", "must be an integer >= 0");
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw optionError(component, "range.end", "must be an integer >= range.start");
  }
}

/** The error for a range that starts at or past the end of an object (S3 answers 416). */
export function rangeNotSatisfiable(
  component: string,
  key: string,
  start: number,
  size?: number,
): ValidationError {
  const where = size === undefined ? "" : ` (size ${size})`;
  return new ValidationError(
    `[storage] [${component}] Range start ${start} is past the end of "${key}"${where}`,
    { issues: [{ path: "range.start", message: "is past the end of the object" }] },
  );
}
