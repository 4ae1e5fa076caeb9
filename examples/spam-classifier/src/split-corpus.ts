import { loadCorpus } from "./load-corpus.js";
import { type Split, stratifiedSplit } from "./split.js";
import type { LabeledEmail } from "./types.js";

/** Options of {@link splitCorpus}. */
export interface SplitCorpusOptions {
  /** JSONL path or `file:` URL; absent or empty: the SpamAssassin corpus. */
  trainingDataUrl?: string;
  /** Fraction held out for testing, in [0, 1). Default 0.2. */
  holdout?: number;
  /** Split seed. Default 42. */
  seed?: number;
}

/**
 * Loads the corpus and splits it exactly as a training with the same `trainingDataUrl`,
 * `testingHoldoutPercent` and `testSplitSeed` does, so callers can score the same holdout.
 */
export async function splitCorpus(
  options: SplitCorpusOptions = {},
): Promise<Split<LabeledEmail> & { total: number }> {
  const examples = await loadCorpus(options.trainingDataUrl);
  const split = stratifiedSplit(examples, {
    holdout: options.holdout ?? 0.2,
    seed: options.seed ?? 42,
  });
  return { ...split, total: examples.length };
}
