import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors/validation-error.js";
import { parsePostUpdate } from "./post-update.js";

describe("parsePostUpdate", () => {
  it("takes the full form and the short (partial output) form", () => {
    expect(
      parsePostUpdate({
        state: "running",
        statusMessage: "epoch 2",
        output: { trainingProgress: { epoch: 2 } },
      }),
    ).toEqual({
      state: "running",
      statusMessage: "epoch 2",
      output: { trainingProgress: { epoch: 2 } },
    });
    expect(parsePostUpdate({ trainingProgress: { fraction: 0.5 } })).toEqual({
      output: { trainingProgress: { fraction: 0.5 } },
    });
    expect(parsePostUpdate({ statusMessage: "warming up" })).toEqual({
      statusMessage: "warming up",
    });
  });

  it("refuses an update over 64 KiB as JSON (it is recorded and sent to every watcher)", () => {
    const metrics = { trainingResults: { blob: "x".repeat(64 * 1024) } };
    expect(() => parsePostUpdate(metrics)).toThrow(ValidationError);
    expect(() => parsePostUpdate(metrics)).toThrow(/postUpdate.*bytes as JSON, more than 65536/);
    expect(parsePostUpdate({ trainingResults: { blob: "x".repeat(60 * 1024) } })).toBeDefined();
  });

  it.each([
    ["a BigInt", { trainingProgress: { step: 3n } }, /trainingProgress\.step.*BigInt/],
    ["a non-object trainingProgress", { trainingProgress: 0.5 }, /trainingProgress/],
    ["an unknown key", { progress: 1 }, /progress/],
    ["mixed forms", { state: "running", trainingProgress: {} }, /trainingProgress/],
    ["a final state", { state: "succeeded" }, /state/],
    ["NaN", { output: { trainingResults: { f1: Number.NaN } } }, /trainingResults\.f1/],
    ["not an object", "50%", /must be an object/],
  ])("refuses %s with a ValidationError naming the field", (_label, value, message) => {
    let error: unknown;
    try {
      parsePostUpdate(value);
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isInstance(error), String(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(message);
  });
});
