import { ValidationError } from "../errors/validation-error.js";
import type { Id } from "../schemas/id.js";

/** Workspace ids, plugin instance ids and checkpoint handles all match this. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The handle a checkpoint is saved to and loaded from when none is given. */
export const DEFAULT_HANDLE = "default";

function describe(value: unknown): string {
  if (typeof value !== "string")
    return `expected a string, got ${value === null ? "null" : typeof value}`;
  if (value.length === 0) return "must not be empty";
  if (value.length > 128) return `must be at most 128 characters (got ${value.length})`;
  const preview = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${preview} must start with a letter or digit and contain only letters, digits, ".", "_" and "-"`;
}

/**
 * Checks a workspace id, plugin instance id or handle against {@link ID_PATTERN} and returns it
 * as an {@link Id}.
 * Anything else throws a `ValidationError` naming `field` — call it before any I/O.
 */
export function validateId(value: unknown, field: string): Id {
  if (typeof value === "string" && ID_PATTERN.test(value)) return value as Id;
  throw ValidationError.forField("core", field, describe(value));
}

/** True when `value` is a valid id (no throw). */
export function isValidId(value: unknown): value is Id {
  return typeof value === "string" && ID_PATTERN.test(value);
}
