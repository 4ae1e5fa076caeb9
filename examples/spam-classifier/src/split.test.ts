import { describe, expect, it } from "vitest";
import { mulberry32 } from "./mulberry32.js";
import { stratifiedSplit } from "./split.js";

const items = Array.from({ length: 1003 }, (_, i) => ({
  id: i,
  label: i % 3 === 0 ? "spam" : "ham",
}));
const ids = (xs: { id: number }[]) => xs.map((x) => x.id);

describe("mulberry32", () => {
  it("is deterministic per seed and stays in [0, 1)", () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(8)()).not.toBe(mulberry32(7)());
  });
});

describe("stratifiedSplit", () => {
  it("gives the same split for the same seed and a different one for another seed", () => {
    const a = stratifiedSplit(items, { holdout: 0.2, seed: 42 });
    const b = stratifiedSplit(items, { holdout: 0.2, seed: 42 });
    const c = stratifiedSplit(items, { holdout: 0.2, seed: 43 });
    expect(ids(a.test)).toEqual(ids(b.test));
    expect(ids(a.train)).toEqual(ids(b.train));
    expect(ids(c.test)).not.toEqual(ids(a.test));
    expect(new Set(ids(c.test))).not.toEqual(new Set(ids(a.test)));
  });

  it("partitions the input and respects the holdout fraction within ±1", () => {
    for (const holdout of [0, 0.1, 0.2, 0.25, 0.5, 0.9]) {
      const { train, test } = stratifiedSplit(items, { holdout, seed: 1 });
      expect(Math.abs(test.length - holdout * items.length)).toBeLessThanOrEqual(1);
      expect(train.length + test.length).toBe(items.length);
      expect(new Set([...ids(train), ...ids(test)]).size).toBe(items.length);
    }
  });

  it("keeps each label's proportion in the test set", () => {
    const { train, test } = stratifiedSplit(items, { holdout: 0.2, seed: 5 });
    for (const label of ["spam", "ham"]) {
      const total = items.filter((x) => x.label === label).length;
      const held = test.filter((x) => x.label === label).length;
      expect(Math.abs(held - 0.2 * total)).toBeLessThanOrEqual(0.5);
      expect(train.filter((x) => x.label === label).length).toBe(total - held);
    }
    // Shuffled afterwards: the test set is not grouped by label.
    const firstSpam = test.findIndex((x) => x.label === "spam");
    const lastHam = test.map((x) => x.label).lastIndexOf("ham");
    expect(firstSpam).toBeLessThan(lastHam);
  });

  it("rejects invalid holdout fractions and seeds", () => {
    expect(() => stratifiedSplit(items, { holdout: 1, seed: 1 })).toThrow(RangeError);
    expect(() => stratifiedSplit(items, { holdout: -0.1, seed: 1 })).toThrow(RangeError);
    expect(() => stratifiedSplit(items, { holdout: Number.NaN, seed: 1 })).toThrow(RangeError);
    expect(() => stratifiedSplit(items, { holdout: 0.2, seed: 1.5 })).toThrow(RangeError);
  });
});
