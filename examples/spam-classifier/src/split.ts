import { mulberry32 } from "./mulberry32.js";
import { seededShuffle } from "./seeded-shuffle.js";

/** Options for {@link stratifiedSplit}. */
export interface SplitOptions {
  /** Fraction of each class held out for testing, in [0, 1). */
  holdout: number;
  /** Integer seed; the same seed and input always give the same split. */
  seed: number;
}

/** The result of {@link stratifiedSplit}. */
export interface Split<T> {
  train: T[];
  test: T[];
}

/**
 * Deterministic stratified train/test split. Each label's items are shuffled with a
 * mulberry32 generator seeded from `seed`, and `round(count * holdout)` of them go to `test`,
 * so every class keeps its proportion and the test size is within ±1 of `holdout * n` for two
 * classes. Both halves are shuffled again, so neither is ordered by label.
 */
export function stratifiedSplit<T extends { label: string }>(
  items: readonly T[],
  options: SplitOptions,
): Split<T> {
  const { holdout, seed } = options;
  if (!(holdout >= 0 && holdout < 1))
    throw new RangeError(`holdout must be in [0, 1), got ${holdout}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const random = mulberry32(seed);
  const byLabel = new Map<string, T[]>();
  for (const item of items) {
    const bucket = byLabel.get(item.label);
    if (bucket === undefined) byLabel.set(item.label, [item]);
    else bucket.push(item);
  }
  const train: T[] = [];
  const test: T[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const shuffled = seededShuffle(byLabel.get(label)!, random);
    const testCount = Math.round(shuffled.length * holdout);
    test.push(...shuffled.slice(0, testCount));
    train.push(...shuffled.slice(testCount));
  }
  return { train: seededShuffle(train, random), test: seededShuffle(test, random) };
}
