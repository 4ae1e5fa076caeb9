import type { z } from "zod";
import { ValidationError } from "../errors/validation-error.js";

/**
 * Parses `input` with `schema` at a boundary. On failure throws a `ValidationError` whose
 * message and `issues` list every bad field path.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  component = "core",
): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(component, what, result.error);
  return result.data;
}
