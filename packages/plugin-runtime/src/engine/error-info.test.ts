import { RemoteError, TrainingError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { errorInfo, isTransient } from "./error-info.js";

describe("errorInfo", () => {
  it("keeps a TrainableError's code and message", () => {
    expect(errorInfo(new TrainingError("[runtime] nope"), "p")).toEqual({
      code: "TRAINING",
      message: "[runtime] nope",
    });
  });

  it("reports anything else as the plugin's INTERNAL failure", () => {
    expect(errorInfo(new Error("boom"), "p")).toEqual({
      code: "INTERNAL",
      message: '[runtime] Plugin "p" failed: boom',
    });
    expect(errorInfo("text", "q").message).toBe('[runtime] Plugin "q" failed: text');
  });
});

describe("isTransient", () => {
  it("is true for a retryable RemoteError only", () => {
    expect(isTransient(new RemoteError("x", { retryable: true }))).toBe(true);
    expect(isTransient(new RemoteError("x", { retryable: false }))).toBe(false);
    expect(isTransient(new Error("x"))).toBe(false);
  });
});
