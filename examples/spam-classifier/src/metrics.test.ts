import { describe, expect, it } from "vitest";
import { evaluate } from "./metrics.js";
import type { Label } from "./types.js";

describe("evaluate", () => {
  it("computes spam precision/recall/F1, accuracy, confusion and per-group errors", () => {
    const examples: { label: Label; group: string }[] = [
      { label: "spam", group: "spam-1" },
      { label: "spam", group: "spam-1" },
      { label: "spam", group: "spam-2" },
      { label: "ham", group: "easy-ham-1" },
      { label: "ham", group: "easy-ham-1" },
      { label: "ham", group: "hard-ham-1" },
    ];
    const predicted: Label[] = ["spam", "spam", "ham", "ham", "ham", "spam"];
    const result = evaluate(examples, predicted);
    expect(result.confusion).toEqual({
      truePositive: 2,
      falsePositive: 1,
      trueNegative: 2,
      falseNegative: 1,
    });
    expect(result.total).toBe(6);
    expect(result.accuracy).toBeCloseTo(4 / 6);
    expect(result.precision).toBeCloseTo(2 / 3);
    expect(result.recall).toBeCloseTo(2 / 3);
    expect(result.f1).toBeCloseTo(2 / 3);
    expect(result.groups).toEqual({
      "spam-1": { total: 2, errors: 0, errorRate: 0 },
      "spam-2": { total: 1, errors: 1, errorRate: 1 },
      "easy-ham-1": { total: 2, errors: 0, errorRate: 0 },
      "hard-ham-1": { total: 1, errors: 1, errorRate: 1 },
    });
  });

  it("accepts prediction objects and handles degenerate cases", () => {
    const result = evaluate([{ label: "ham" }], [{ label: "ham" }]);
    expect(result).toMatchObject({ accuracy: 1, precision: 0, recall: 0, f1: 0 });
    expect(result.groups).toEqual({ unknown: { total: 1, errors: 0, errorRate: 0 } });
    expect(evaluate([], []).accuracy).toBe(0);
    expect(() => evaluate([{ label: "ham" }], [])).toThrow(/1 examples/);
  });
});
