import { posix, win32 } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkZipEntry, type ZipEntryFields } from "./check-zip-entry.js";

const MAX_PATH = 4096;
const file = (name: string, extra: Partial<ZipEntryFields> = {}): ZipEntryFields => ({
  name,
  externalFileAttributes: (0o100644 << 16) >>> 0,
  generalPurposeBitFlag: 0,
  compressionMethod: 8,
  uncompressedSize: 1,
  ...extra,
});
const dir = (name: string): ZipEntryFields =>
  file(name, {
    externalFileAttributes: ((0o40755 << 16) | 0x10) >>> 0,
    compressionMethod: 0,
    uncompressedSize: 0,
  });

const segment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._ -]{0,11}$/).filter((s) => s !== "..");
const safePath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
/** Names of every kind: unicode, separators of both platforms, dots, drive letters. */
const anyName = fc
  .array(
    fc.oneof(
      fc.string({ unit: "binary", maxLength: 6 }),
      fc.constantFrom("/", "\\", "..", ".", "C:", "c:", "//", "\u0000", "\u202e"),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(""));

describe("checkZipEntry (property-based)", () => {
  it("an accepted name stays inside the folder on POSIX and on Windows, already normalized", () => {
    fc.assert(
      fc.property(anyName, fc.boolean(), (name, asDir) => {
        const check = checkZipEntry(asDir ? dir(`${name}/`) : file(name), MAX_PATH);
        if (check.problem !== undefined) return;
        expect(check.path).not.toContain("\\");
        expect(posix.normalize(check.path)).toBe(check.path);
        expect(posix.resolve("/root", check.path).startsWith("/root/")).toBe(true);
        expect(win32.resolve("C:\\root", check.path).startsWith("C:\\root\\")).toBe(true);
      }),
      { numRuns: 2000, seed: 20261130 },
    );
  });

  it("accepts plain relative paths of files and directories", () => {
    fc.assert(
      fc.property(safePath, (path) => {
        expect(checkZipEntry(file(path), MAX_PATH)).toEqual({ path, directory: false });
        expect(checkZipEntry(dir(`${path}/`), MAX_PATH)).toEqual({ path, directory: true });
      }),
      { seed: 20261130 },
    );
  });

  it("refuses a traversal, absolute, drive-letter or backslash name wherever it appears", () => {
    const hostile = fc.constantFrom("..", "", "C:", "a\\b", ".");
    fc.assert(
      fc.property(safePath, hostile, fc.nat(), (path, bad, at) => {
        const segments = path.split("/");
        segments.splice(at % (segments.length + 1), 0, bad);
        const name = segments.join("/");
        expect(checkZipEntry(file(name), MAX_PATH).problem).toBeDefined();
        expect(checkZipEntry(file(`/${path}`), MAX_PATH).problem).toMatch(/absolute/);
      }),
      { seed: 20261130 },
    );
  });

  it("refuses links and special files whatever the name, and attributes that contradict it", () => {
    fc.assert(
      fc.property(
        safePath,
        fc.constantFrom(0o120000, 0o010000, 0o020000, 0o060000, 0o140000),
        (path, type) => {
          const check = checkZipEntry(
            file(path, { externalFileAttributes: ((type | 0o777) << 16) >>> 0 }),
            MAX_PATH,
          );
          expect(check.problem).toMatch(/symbolic link|not a regular file or directory/);
        },
      ),
      { seed: 20261130 },
    );
    expect(checkZipEntry(dir("a"), MAX_PATH).problem).toMatch(/directory attributes/);
    expect(checkZipEntry(file("a/"), MAX_PATH).problem).toMatch(/file attributes/);
    expect(checkZipEntry(file("a", { generalPurposeBitFlag: 1 }), MAX_PATH).problem).toMatch(
      /encrypted/,
    );
    expect(checkZipEntry(file("a", { compressionMethod: 12 }), MAX_PATH).problem).toMatch(
      /compression method 12/,
    );
    expect(checkZipEntry(file("a".repeat(11)), 10).problem).toMatch(/longer than 10 bytes/);
    // A zip made on Windows or by a tool that sets no Unix mode: the name decides.
    expect(checkZipEntry(file("a", { externalFileAttributes: 0x20 }), MAX_PATH)).toEqual({
      path: "a",
      directory: false,
    });
  });
});
