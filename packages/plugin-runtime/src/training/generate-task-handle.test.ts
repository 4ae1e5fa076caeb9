import { createHash } from "node:crypto";
import { isValidId } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { generateTaskHandle } from "./generate-task-handle.js";

describe("generateTaskHandle", () => {
  const at = new Date("2025-03-01T14:22:33.123Z");

  it("is the time-based handle plus 16 hex digits of the task id's sha256", () => {
    const digest = createHash("sha256").update("task-1").digest("hex").slice(0, 16);
    expect(generateTaskHandle("task-1", at)).toBe(`v20250301-142233-123-${digest}`);
    expect(isValidId(generateTaskHandle("task-1", at))).toBe(true);
  });

  it("differs for task ids that share a long prefix, at the same time", () => {
    const prefix = "x".repeat(60);
    expect(generateTaskHandle(`${prefix}a`, at)).not.toBe(generateTaskHandle(`${prefix}b`, at));
  });
});
