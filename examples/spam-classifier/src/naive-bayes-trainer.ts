import { NaiveBayesClassifier } from "./naive-bayes.js";
import { DEFAULT_NAIVE_BAYES_CONFIG, type NaiveBayesConfig } from "./naive-bayes-config.js";
import type { Label } from "./types.js";

interface TokenStats {
  ham: number;
  spam: number;
  /** Documents (first pass only) containing the token. */
  df: number;
}

/**
 * Accumulates naive Bayes counts incrementally, one document at a time, and can
 * {@link build} a classifier from the current counts at any point (training is a single pass
 * of counting; `build` prunes the vocabulary and turns counts into smoothed log-probabilities).
 */
export class NaiveBayesTrainer {
  readonly config: NaiveBayesConfig;
  readonly #stats = new Map<string, TokenStats>();
  readonly #documents = { ham: 0, spam: 0 };

  constructor(config: Partial<NaiveBayesConfig> = {}) {
    this.config = { ...DEFAULT_NAIVE_BAYES_CONFIG, ...config };
    const { alpha, minDocumentFrequency, maxVocabularySize, threshold } = this.config;
    if (!(alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
    if (!(minDocumentFrequency >= 1)) throw new RangeError("minDocumentFrequency must be >= 1");
    if (!(maxVocabularySize >= 1)) throw new RangeError("maxVocabularySize must be >= 1");
    if (!(threshold >= 0 && threshold <= 1)) throw new RangeError("threshold must be in [0, 1]");
  }

  /** Training documents counted so far, per class. */
  get documentCounts(): { ham: number; spam: number } {
    return { ...this.#documents };
  }

  /** Distinct tokens seen so far (before pruning). */
  get distinctTokens(): number {
    return this.#stats.size;
  }

  /**
   * Counts one tokenized document. With `reinforce: true` the token counts are added again
   * (weighted by `weight`) without counting a new document or changing document frequencies —
   * this is how mistake-driven refinement epochs emphasise misclassified emails.
   */
  addDocument(
    tokens: readonly string[],
    label: Label,
    options: { reinforce?: boolean; weight?: number } = {},
  ): void {
    const reinforce = options.reinforce ?? false;
    const weight = options.weight ?? 1;
    const counted = this.config.binary ? [...new Set(tokens)] : tokens;
    if (!reinforce) this.#documents[label] += 1;
    for (const token of counted) {
      let stats = this.#stats.get(token);
      if (stats === undefined) {
        stats = { ham: 0, spam: 0, df: 0 };
        this.#stats.set(token, stats);
      }
      stats[label] += weight;
    }
    if (!reinforce) {
      for (const token of this.config.binary ? counted : new Set(tokens))
        this.#stats.get(token)!.df += 1;
    }
  }

  /** Builds a classifier from the counts so far (the trainer can keep counting afterwards). */
  build(): NaiveBayesClassifier {
    const { alpha, minDocumentFrequency, maxVocabularySize } = this.config;
    const kept: [string, TokenStats][] = [];
    for (const entry of this.#stats) if (entry[1].df >= minDocumentFrequency) kept.push(entry);
    kept.sort((a, b) => b[1].df - a[1].df || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (kept.length > maxVocabularySize) kept.length = maxVocabularySize;
    kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

    const size = kept.length;
    let hamTotal = 0;
    let spamTotal = 0;
    for (const [, stats] of kept) {
      hamTotal += stats.ham;
      spamTotal += stats.spam;
    }
    const hamDenominator = Math.log(hamTotal + alpha * size);
    const spamDenominator = Math.log(spamTotal + alpha * size);
    const logLikelihoodsHam = new Float64Array(size);
    const logLikelihoodsSpam = new Float64Array(size);
    kept.forEach(([, stats], i) => {
      logLikelihoodsHam[i] = Math.log(stats.ham + alpha) - hamDenominator;
      logLikelihoodsSpam[i] = Math.log(stats.spam + alpha) - spamDenominator;
    });
    const { ham, spam } = this.#documents;
    const total = ham + spam;
    // Add-one smoothing on the priors keeps them finite when a class has no documents yet.
    const logPriors = [Math.log((ham + 1) / (total + 2)), Math.log((spam + 1) / (total + 2))];
    return new NaiveBayesClassifier({
      config: this.config,
      vocabulary: kept.map(([token]) => token),
      documentCounts: { ham, spam },
      logPriors,
      logLikelihoodsHam,
      logLikelihoodsSpam,
    });
  }
}
