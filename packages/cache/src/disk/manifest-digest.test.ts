import { manifestDigest as storageDigest } from "@trainable/storage";
import { describe, expect, it } from "vitest";
import { manifestDigest } from "./manifest-digest.js";

const sha = (c: string) => c.repeat(64);

describe("manifestDigest", () => {
  it("matches @trainable/storage's definition, including order and escaping", () => {
    const files = [
      { path: "z.bin", size: 3, sha256: sha("a") },
      { path: "a/b.json", size: 0, sha256: sha("b") },
      { path: 'we"ird é ✓.txt', size: 12, sha256: sha("c") },
      { path: "é.txt", size: 2, sha256: sha("e") },
      { path: "f.txt", size: 2, sha256: sha("f") },
      { path: "A.txt", size: 1, sha256: sha("d") },
    ];
    expect(manifestDigest(files)).toBe(storageDigest(files));
    expect(manifestDigest([])).toBe(storageDigest([]));
    expect(manifestDigest(files, ["z", "a/b", "a"])).toBe(storageDigest(files, ["a", "a/b", "z"]));
  });
});
