import { isValidId } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { generateHandle } from "./generate-handle.js";

describe("generateHandle", () => {
  it("is a valid, time-sortable handle", () => {
    const a = generateHandle(new Date("2025-03-01T14:22:33.123Z"));
    const b = generateHandle(new Date("2025-03-01T14:22:33.124Z"));
    expect(a).toBe("v20250301-142233-123");
    expect(isValidId(a)).toBe(true);
    expect(a < b).toBe(true);
  });
});
