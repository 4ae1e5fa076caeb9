import { createHash } from "node:crypto";
import { ValidationError } from "@trainable/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { comparePaths } from "./compare-paths.js";
import { manifestDigest } from "./manifest-digest.js";

const h = (c: string) => c.repeat(64);

describe("manifestDigest", () => {
  it("hashes the documented canonical form", () => {
    const files = [
      { path: 'z/"q".bin', size: 10, sha256: h("b") },
      { path: "a.json", size: 0, sha256: h("a") },
    ];
    const canonical =
      `[{"path":"a.json","size":0,"sha256":"${h("a")}"},` +
      `{"path":"z/\\"q\\".bin","size":10,"sha256":"${h("b")}"}]`;
    const expected = createHash("sha256").update(canonical, "utf8").digest("hex");
    expect(manifestDigest(files)).toBe(`sha256:${expected}`);
    expect(manifestDigest([])).toBe(`sha256:${createHash("sha256").update("[]").digest("hex")}`);
  });

  it("does not depend on input order and changes with any field", () => {
    const files = [
      { path: "a", size: 1, sha256: h("1") },
      { path: "b/c", size: 2, sha256: h("2") },
      { path: "é", size: 3, sha256: h("3") },
    ];
    const digest = manifestDigest(files);
    expect(manifestDigest([...files].reverse())).toBe(digest);
    expect(manifestDigest([{ ...files[0]!, size: 9 }, ...files.slice(1)])).not.toBe(digest);
    expect(manifestDigest([{ ...files[0]!, sha256: h("f") }, ...files.slice(1)])).not.toBe(digest);
    expect(manifestDigest([{ ...files[0]!, path: "A" }, ...files.slice(1)])).not.toBe(digest);
    expect(manifestDigest(files.slice(1))).not.toBe(digest);
    // Directories take part: an extra (empty) directory is another checkpoint.
    expect(manifestDigest(files, ["logs"])).not.toBe(digest);
    expect(manifestDigest(files, ["a", "b"])).toBe(manifestDigest(files, ["b", "a"]));
    expect(() => manifestDigest(files, ["a", "a"])).toThrow(/listed twice/);
  });

  it("refuses duplicates and invalid entries", () => {
    const bad: Array<[unknown[], RegExp]> = [
      [
        [
          { path: "a", size: 1, sha256: h("1") },
          { path: "a", size: 1, sha256: h("1") },
        ],
        /"a" is listed twice/,
      ],
      [[{ path: "../a", size: 1, sha256: h("1") }], /"\.\.\/a": path contains a "\.\." segment/],
      [[{ path: "a", size: -1, sha256: h("1") }], /"a": size must be a non-negative integer/],
      [[{ path: "a", size: 1, sha256: "ABC" }], /"a": sha256 must be 64 lowercase hex/],
    ];
    for (const [files, message] of bad) {
      let error: unknown;
      try {
        manifestDigest(files as never);
      } catch (e) {
        error = e;
      }
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe("comparePaths", () => {
  it("orders like Buffer.compare on UTF-8 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        const expected = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(Math.sign(comparePaths(a, b))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    expect(comparePaths("\uE000", "😀")).toBeLessThan(0);
    expect(comparePaths("a/b", "a.b")).toBeGreaterThan(0);
  });
});
