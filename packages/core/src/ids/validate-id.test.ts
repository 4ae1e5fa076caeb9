import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TrainableError } from "../errors/trainable-error.js";
import { ValidationError } from "../errors/validation-error.js";
import { DEFAULT_HANDLE, ID_PATTERN, isValidId, validateId } from "./validate-id.js";

function rejection(value: unknown, field = "pluginInstanceId"): ValidationError {
  try {
    validateId(value, field);
  } catch (error) {
    if (ValidationError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(String(value))} to be rejected`);
}

const ACCEPTED = [
  "a",
  "Z",
  "0",
  "default",
  "my-tagger",
  "v1",
  "epoch_23",
  "V1.2.3",
  "a..b",
  "a.",
  "a-",
  "a_",
  "6A6F2A0E-1B2C-4D5E-8F90-ABCDEF012345",
  `a${"b".repeat(127)}`, // 128 characters
];

const REJECTED: Array<[string, unknown]> = [
  ["dot-dot traversal", "../x"],
  ["parent", ".."],
  ["dot", "."],
  ["slash", "a/b"],
  ["backslash", "a\\b"],
  ["absolute path", "/etc"],
  ["windows drive", "C:\\x"],
  ["empty", ""],
  ["129 characters", `a${"b".repeat(128)}`],
  ["leading dot", ".hidden"],
  ["leading dash", "-rf"],
  ["leading underscore", "_x"],
  ["unicode letter", "modèle"],
  ["unicode lookalike", "dеfault"], // Cyrillic е
  ["emoji", "a😀"],
  ["NUL", "a\u0000b"],
  ["trailing NUL", "default\u0000"],
  ["space inside", "my tagger"],
  ["leading space", " a"],
  ["trailing space", "a "],
  ["trailing newline", "a\n"],
  ["tab", "a\tb"],
  ["colon", "a:b"],
  ["percent-encoding", "a%2Fb"],
  ["star", "a*"],
];

describe("validateId", () => {
  it("DEFAULT_HANDLE is `default` and valid", () => {
    expect(DEFAULT_HANDLE).toBe("default");
    expect(validateId(DEFAULT_HANDLE, "handle")).toBe("default");
  });

  it.each(ACCEPTED)("accepts %j", (id) => {
    expect(validateId(id, "handle")).toBe(id);
    expect(isValidId(id)).toBe(true);
    expect(ID_PATTERN.test(id)).toBe(true);
  });

  it.each(REJECTED)("rejects %s", (_label, value) => {
    const error = rejection(value, "handle");
    expect(error.code).toBe("VALIDATION");
    expect(TrainableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/^\[core\] Invalid handle: /);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe("handle");
    expect(isValidId(value)).toBe(false);
  });

  it.each([
    ["undefined", undefined, "undefined"],
    ["null", null, "null"],
    ["number", 42, "number"],
    ["boolean", true, "boolean"],
    ["object", { id: "a" }, "object"],
    ["array", ["a"], "object"],
    ["String object", new String("abc"), "object"],
    ["symbol", Symbol("a"), "symbol"],
  ])("rejects a non-string (%s) and says what it got", (_label, value, got) => {
    const error = rejection(value, "workspace");
    expect(error.message).toContain("Invalid workspace");
    expect(error.message).toContain(`expected a string, got ${got}`);
    expect(isValidId(value)).toBe(false);
  });

  it("names the field it was given", () => {
    expect(rejection("../x", "pluginInstanceId").message).toContain("pluginInstanceId");
    expect(rejection("../x", "handle").issues[0]?.path).toBe("handle");
  });

  it("explains empty and too-long values", () => {
    expect(rejection("").message).toContain("must not be empty");
    expect(rejection("a".repeat(129)).message).toContain("at most 128 characters (got 129)");
  });

  it("truncates a long bad value in the message", () => {
    const bad = `-${"x".repeat(100)}`;
    const error = rejection(bad);
    expect(error.message).not.toContain(bad);
    expect(error.message).toContain("…");
  });

  it("quotes control characters instead of printing them raw", () => {
    const error = rejection("a\u0000b");
    expect(error.message).not.toContain("\u0000");
    expect(error.message).toContain("\\u0000");
  });
});

describe("validateId properties", () => {
  const idChar = fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".split(""),
  );
  const firstChar = fc.constantFrom(
    ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split(""),
  );
  const validId = fc
    .tuple(firstChar, fc.array(idChar, { maxLength: 127 }))
    .map(([first, rest]) => first + rest.join(""));

  it("every generated valid id is accepted unchanged", () => {
    fc.assert(
      fc.property(validId, (id) => {
        expect(validateId(id, "handle")).toBe(id);
        expect(isValidId(id)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  const anyString = fc.oneof(
    fc.string({ maxLength: 140 }),
    fc.string({ unit: "grapheme", maxLength: 20 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.stringMatching(/^[A-Za-z0-9./\\_-]{0,140}$/),
    fc
      .array(fc.constantFrom("a", ".", "..", "/", "\\", "-", "_", "0", "\u0000", " ", "\n"), {
        maxLength: 12,
      })
      .map((parts) => parts.join("")),
  );

  it("every accepted string is safe as one path segment", () => {
    fc.assert(
      fc.property(anyString, (value) => {
        let accepted: boolean;
        try {
          validateId(value, "handle");
          accepted = true;
        } catch (error) {
          expect(ValidationError.isInstance(error)).toBe(true);
          accepted = false;
        }
        expect(isValidId(value)).toBe(accepted);
        if (!accepted) return;
        expect(value).toMatch(ID_PATTERN);
        expect(value.length).toBeGreaterThanOrEqual(1);
        expect(value.length).toBeLessThanOrEqual(128);
        expect(value).not.toContain("/");
        expect(value).not.toContain("\\");
        expect(value).not.toContain("\u0000");
        expect(value).not.toMatch(/\s/);
        for (const segment of value.split(/[/\\]/)) {
          expect(segment).not.toBe("..");
          expect(segment).not.toBe(".");
        }
        expect(value.startsWith(".")).toBe(false);
        expect(value.startsWith("-")).toBe(false);
        // Only ASCII letters, digits and ._-
        expect([...value].every((c) => /[A-Za-z0-9._-]/.test(c))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("non-strings are always rejected with a ValidationError", () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== "string"),
        (value) => {
          expect(() => validateId(value, "handle")).toThrow(ValidationError);
          expect(isValidId(value)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
