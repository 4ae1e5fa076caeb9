import { ValidationError } from "@trainable/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateKey, validatePrefix } from "./validate-key.js";

describe("validateKey", () => {
  it("accepts the keys the checkpoint store builds", () => {
    for (const key of [
      "ws/inst/blobs/sha256/ab12.tar",
      "ws/inst/blobs/sha256/ab12.tar.gz.json",
      "ws/inst/refs/default/000000000001.json",
      "a",
      "a.b/c-d_e",
      "..a/b..",
    ]) {
      expect(validateKey("test", key)).toBe(key);
    }
  });

  it("rejects empty, absolute, backslash, dot-dot, empty-segment, control and reserved keys", () => {
    const bad: Array<[string, RegExp]> = [
      ["", /is empty/],
      ["/abs", /is absolute/],
      ["a\\b", /backslash/],
      ["a/../b", /"\.\." segment/],
      ["..", /"\.\." segment/],
      ["./a", /"\." segment/],
      ["a//b", /empty path segment/],
      ["a/", /empty path segment/],
      ["a\nb", /control character/],
      ["a/.~lock.b", /reserved/],
      ["x".repeat(1025), /longer than 1024 bytes/],
    ];
    for (const [key, message] of bad) {
      expect(() => validateKey("test", key), JSON.stringify(key)).toThrow(message);
      expect(() => validateKey("test", key)).toThrow(ValidationError);
    }
    expect(() => validateKey("file", "../x")).toThrow(/^\[storage\] \[file\] Invalid key "..\/x"/);
  });

  it("never accepts a key that could leave its root (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", ".", "..", "", "/", "\\", ".~x"), { maxLength: 8 }),
        (parts) => {
          const key = parts.join("");
          let ok = true;
          try {
            validateKey("test", key);
          } catch {
            ok = false;
          }
          if (ok) {
            const segments = key.split("/");
            expect(key.startsWith("/")).toBe(false);
            expect(key.includes("\\")).toBe(false);
            expect(segments.every((s) => s !== "" && s !== "." && s !== "..")).toBe(true);
          }
        },
      ),
    );
  });
});

describe("validatePrefix", () => {
  it("accepts empty, folder and partial prefixes", () => {
    for (const prefix of ["", "a/", "a/b", "a/b/", "ws/inst/refs/def"]) {
      expect(validatePrefix("test", prefix)).toBe(prefix);
    }
  });

  it("rejects prefixes that no valid key could have", () => {
    for (const prefix of ["/a", "a//", "../", "a/../b", "a\\"]) {
      expect(() => validatePrefix("test", prefix), prefix).toThrow(ValidationError);
    }
  });
});
