/** fast-check generators of hostile input: bad ids, bad JSON, wrong types, huge values. */
import { ID_PATTERN } from "@trainable/core";
import fc from "fast-check";

/** A 10 KiB id (handles and instance ids are at most 128 characters). */
export const TEN_KIB_ID = "a".repeat(10 * 1024);

/** Strings that are never valid ids (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`), NUL-free. */
export const badId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "../x",
    "..",
    ".",
    "../../../../etc/passwd",
    "a/../../b",
    "/abs",
    "a/b",
    "a\\b",
    "..\\x",
    "C:x",
    "C:\\Windows",
    "-x",
    "--x",
    "_x",
    ".hidden",
    "a b",
    "x\ny",
    "ünïcode",
    "%2e%2e%2fx",
    "x".repeat(129),
    TEN_KIB_ID,
    "default/../../other",
    "$" + "{HOME}",
    "$(id)",
    "`id`",
    "a;rm -rf /",
  ),
  fc
    .string({ unit: "binary", minLength: 0, maxLength: 300 })
    .filter((s) => !ID_PATTERN.test(s) && !s.includes("\u0000")),
  fc
    .tuple(fc.constantFrom("../", "./", "/", "\\", "..\\"), fc.stringMatching(/^[a-z0-9]{1,20}$/))
    .map(([a, b]) => `${a}${b}`),
  fc.integer({ min: 129, max: 10 * 1024 }).map((n) => "h".repeat(n)),
);

/** Any JSON value (what a hostile client can put in a field). */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1e308,
      -1e308,
      2 ** 53 + 1,
      0.5,
      "",
      "x".repeat(5000),
      [],
      {},
      { __proto__: { polluted: true } },
      JSON.parse('{"__proto__":{"polluted":true}}'),
      { constructor: { prototype: { polluted: true } } },
    ),
  },
  { weight: 1, arbitrary: badId },
);

/** Text that is not valid JSON. */
export const invalidJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "{",
    "}",
    "[",
    "{,}",
    "{'a':1}",
    '{"a":}',
    '{"a":1,}',
    "undefined",
    "NaN",
    "{a:1}",
    '{"data":{"file":{"blocks":[{"text":"x"}]}}',
    "\u0000",
    "\ufeff{}",
    "nul\u0000l",
    '"unterminated',
    "[".repeat(10_000),
    "-",
    "01",
    "1e",
    "tru",
  ),
  fc.string({ unit: "binary", maxLength: 200 }).filter((s) => {
    if (s.trim() === "") return false;
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
);

/** Deeply nested JSON (valid) of `depth` levels, under a body limit. */
export const deepJson = fc
  .tuple(fc.integer({ min: 1_000, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `${"[".repeat(depth)}${"]".repeat(depth)}`
      : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
  );

/** Sets `value` at a dotted path of a deep copy of `base` (creating objects on the way). */
export function setPath(base: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let cursor: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    const next = cursor[key];
    if (next === null || typeof next !== "object") cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  cursor[keys.at(-1)!] = value;
  return copy;
}
