import { z } from "zod";

/** Where `value` stops being JSON (a BigInt, function, symbol, undefined, NaN, a cycle…), or undefined. */
export function jsonProblem(
  value: unknown,
  path: (string | number)[] = [],
  seen: Set<object> = new Set(),
): { path: (string | number)[]; message: string } | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : { path, message: "must be a finite number (JSON has no NaN or Infinity)" };
    case "object": {
      if (value === null) return undefined;
      if (seen.has(value)) return { path, message: "is a circular reference" };
      const proto = Object.getPrototypeOf(value);
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
        return {
          path,
          message: `must be plain JSON, not a ${proto?.constructor?.name ?? "class instance"}`,
        };
      }
      seen.add(value);
      const entries: Array<[string | number, unknown]> = Array.isArray(value)
        ? value.map((item, index) => [index, item])
        : Object.entries(value);
      for (const [key, item] of entries) {
        const problem = jsonProblem(item, [...path, key], seen);
        if (problem) return problem;
      }
      seen.delete(value);
      return undefined;
    }
    default:
      return {
        path,
        message: `must be a JSON value, not ${typeof value === "bigint" ? "a BigInt" : typeof value}`,
      };
  }
}

/**
 * A JSON object with string keys (hyperparameters, metrics, free-form metadata), checked deeply:
 * a BigInt, a function, `undefined`, NaN or Infinity, a Date or other class instance, or a
 * cycle anywhere inside is refused where it enters, naming its path, never stored to break a
 * later read.
 */
export const JsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = jsonProblem(value);
  if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
});
export type JsonObject = z.infer<typeof JsonObject>;
