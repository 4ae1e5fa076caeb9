import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { remoteStatusDigest } from "./issued-task-digest.js";

describe("remoteStatusDigest", () => {
  it("is the SHA-256 of the canonical JSON", () => {
    const expected = createHash("sha256").update('{"a":1,"b":[true,null]}').digest("hex");
    expect(remoteStatusDigest({ b: [true, null], a: 1 })).toBe(expected);
  });

  it("ignores key order and undefined members, not values", () => {
    expect(remoteStatusDigest({ x: { b: 2, a: 1 }, y: undefined })).toBe(
      remoteStatusDigest({ x: { a: 1, b: 2 } }),
    );
    expect(remoteStatusDigest({ a: 1 })).not.toBe(remoteStatusDigest({ a: "1" }));
    expect(remoteStatusDigest(undefined)).toBe(remoteStatusDigest(null));
  });
});
