import { readFileSync } from "node:fs";
import { expect } from "vitest";
import type { z } from "zod";
import { ValidationError } from "../../errors/validation-error.js";
import { parseWith } from "../parse.js";

/** Reads a JSON fixture from this folder as an HTTP handler would see it: `unknown`. */
export function readFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), "utf8"));
}

/** The ValidationError `parseWith` throws for `input`; fails the test when it does not throw. */
export function rejectionOf(schema: z.ZodType, input: unknown, what = "input"): ValidationError {
  let caught: unknown;
  try {
    parseWith(schema, input, what);
  } catch (error) {
    caught = error;
  }
  if (caught === undefined)
    throw new Error(`expected ${what} to be rejected: ${JSON.stringify(input)}`);
  expect(ValidationError.isInstance(caught)).toBe(true);
  return caught as ValidationError;
}

/**
 * Asserts `parseWith` rejects `input` with an issue for exactly the given paths (each path
 * once or more), and that the message names every one of them.
 */
export function expectIssuePaths(
  schema: z.ZodType,
  input: unknown,
  paths: string[],
  what = "input",
): ValidationError {
  const error = rejectionOf(schema, input, what);
  const got = [...new Set(error.issues.map((issue) => issue.path))].sort();
  expect(got).toEqual([...new Set(paths)].sort());
  for (const path of paths) expect(error.message).toContain(`${path}: `);
  expect(error.message.startsWith(`[core] Invalid ${what}: `)).toBe(true);
  return error;
}
