import type { NaiveBayesConfig } from "./naive-bayes-config.js";
import { tokenize } from "./tokenize.js";
import type { Label } from "./types.js";

/** A prediction for one email. */
export interface Prediction {
  label: Label;
  /** Posterior P(spam | text) under the model, in [0, 1]. */
  spamProbability: number;
}

/** Plain-object form of a model (everything JSON-able). */
export interface NaiveBayesModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_VERSION;
  classes: ["ham", "spam"];
  config: NaiveBayesConfig;
  /** Training documents per class, for information. */
  documentCounts: { ham: number; spam: number };
  vocabulary: string[];
  /** Natural-log class priors `[ham, spam]`. */
  logPriors: [number, number];
  /** Natural-log P(token | class), aligned with `vocabulary`. */
  logLikelihoods: { ham: number[]; spam: number[] };
}

/** The on-disk form produced by {@link NaiveBayesClassifier.toFiles}. */
export type NaiveBayesModelFiles = {
  /** Format, version, config, document counts and the binary layout. */
  "config.json": string;
  /** JSON array of tokens; index i is row i of each likelihood array. */
  "vocabulary.json": string;
  /** Little-endian float64: `[logPriorHam, logPriorSpam, ...logLikHam[V], ...logLikSpam[V]]`. */
  "parameters.bin": Buffer;
};

const MODEL_FORMAT = "spam-classifier/multinomial-naive-bayes";
const MODEL_VERSION = 1;

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function asText(content: string | Uint8Array | undefined, name: string): string {
  if (content === undefined) throw new Error(`model files are missing ${name}`);
  return typeof content === "string" ? content : Buffer.from(content).toString("utf8");
}

/**
 * A trained two-class (ham/spam) multinomial naive Bayes model. Immutable; build one with
 * `NaiveBayesTrainer`/`trainNaiveBayes`, or restore it with {@link fromJSON}/{@link fromFiles}.
 * Scoring sums log-probabilities, so long emails never underflow; unknown tokens are ignored.
 */
export class NaiveBayesClassifier {
  readonly config: NaiveBayesConfig;
  readonly vocabulary: readonly string[];
  readonly documentCounts: { ham: number; spam: number };
  /** `[ham, spam]`. */
  readonly logPriors: Float64Array;
  readonly logLikelihoodsHam: Float64Array;
  readonly logLikelihoodsSpam: Float64Array;
  readonly #index: Map<string, number>;

  constructor(init: {
    config: NaiveBayesConfig;
    vocabulary: readonly string[];
    documentCounts: { ham: number; spam: number };
    logPriors: ArrayLike<number>;
    logLikelihoodsHam: ArrayLike<number>;
    logLikelihoodsSpam: ArrayLike<number>;
  }) {
    const size = init.vocabulary.length;
    if (init.logPriors.length !== 2) throw new Error("logPriors must have 2 entries");
    if (init.logLikelihoodsHam.length !== size || init.logLikelihoodsSpam.length !== size) {
      throw new Error(`likelihood arrays must have ${size} entries (the vocabulary size)`);
    }
    this.config = structuredClone(init.config);
    this.vocabulary = Object.freeze([...init.vocabulary]);
    this.documentCounts = { ...init.documentCounts };
    this.logPriors = Float64Array.from(init.logPriors);
    this.logLikelihoodsHam = Float64Array.from(init.logLikelihoodsHam);
    this.logLikelihoodsSpam = Float64Array.from(init.logLikelihoodsSpam);
    this.#index = new Map();
    this.vocabulary.forEach((token, i) => {
      if (this.#index.has(token))
        throw new Error(`duplicate vocabulary token ${JSON.stringify(token)}`);
      this.#index.set(token, i);
    });
  }

  /** Classifies a raw email (headers and body) or plain text. */
  predict(text: string): Prediction {
    return this.predictTokens(tokenize(text, this.config.tokenizer));
  }

  /** Classifies already-tokenized text (tokens from {@link tokenize} with this model's options). */
  predictTokens(tokens: readonly string[]): Prediction {
    let score = this.logPriors[1]! - this.logPriors[0]!;
    const seen = this.config.binary ? new Set<number>() : undefined;
    for (const token of tokens) {
      const i = this.#index.get(token);
      if (i === undefined) continue;
      if (seen !== undefined) {
        if (seen.has(i)) continue;
        seen.add(i);
      }
      score += this.logLikelihoodsSpam[i]! - this.logLikelihoodsHam[i]!;
    }
    const spamProbability = sigmoid(score);
    return { label: spamProbability >= this.config.threshold ? "spam" : "ham", spamProbability };
  }

  /** A plain, JSON-serializable copy of the model. */
  toJSON(): NaiveBayesModelJson {
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      classes: ["ham", "spam"],
      config: structuredClone(this.config),
      documentCounts: { ...this.documentCounts },
      vocabulary: [...this.vocabulary],
      logPriors: [this.logPriors[0]!, this.logPriors[1]!],
      logLikelihoods: { ham: [...this.logLikelihoodsHam], spam: [...this.logLikelihoodsSpam] },
    };
  }

  /** Restores a model from {@link toJSON} output. */
  static fromJSON(json: NaiveBayesModelJson): NaiveBayesClassifier {
    NaiveBayesClassifier.#checkHeader(json);
    return new NaiveBayesClassifier({
      config: json.config,
      vocabulary: json.vocabulary,
      documentCounts: json.documentCounts,
      logPriors: json.logPriors,
      logLikelihoodsHam: json.logLikelihoods.ham,
      logLikelihoodsSpam: json.logLikelihoods.spam,
    });
  }

  /** Checkpoint files: small JSON metadata, the vocabulary, and float64 parameters. */
  toFiles(): NaiveBayesModelFiles {
    const size = this.vocabulary.length;
    const parameters = Buffer.alloc((2 + 2 * size) * 8);
    const view = new DataView(parameters.buffer, parameters.byteOffset, parameters.byteLength);
    view.setFloat64(0, this.logPriors[0]!, true);
    view.setFloat64(8, this.logPriors[1]!, true);
    for (let i = 0; i < size; i++) {
      view.setFloat64((2 + i) * 8, this.logLikelihoodsHam[i]!, true);
      view.setFloat64((2 + size + i) * 8, this.logLikelihoodsSpam[i]!, true);
    }
    const config = {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      classes: ["ham", "spam"],
      config: this.config,
      documentCounts: this.documentCounts,
      vocabularySize: size,
      parameters: {
        file: "parameters.bin",
        dtype: "float64",
        byteOrder: "little-endian",
        layout: [
          "logPriors[2]",
          "logLikelihoods.ham[vocabularySize]",
          "logLikelihoods.spam[vocabularySize]",
        ],
      },
    };
    return {
      "config.json": `${JSON.stringify(config, null, 2)}\n`,
      "vocabulary.json": JSON.stringify(this.vocabulary),
      "parameters.bin": parameters,
    };
  }

  /** Restores a model from {@link toFiles} output (file contents as strings or bytes). */
  static fromFiles(files: Record<string, string | Uint8Array>): NaiveBayesClassifier {
    const meta = JSON.parse(asText(files["config.json"], "config.json")) as {
      format: unknown;
      version: unknown;
      config: NaiveBayesConfig;
      documentCounts: { ham: number; spam: number };
      vocabularySize: number;
    };
    NaiveBayesClassifier.#checkHeader(meta);
    const vocabulary = JSON.parse(asText(files["vocabulary.json"], "vocabulary.json")) as unknown;
    if (!Array.isArray(vocabulary) || !vocabulary.every((t) => typeof t === "string")) {
      throw new Error("vocabulary.json must be a JSON array of strings");
    }
    const size = vocabulary.length;
    if (size !== meta.vocabularySize) {
      throw new Error(
        `vocabulary.json has ${size} tokens, config.json says ${meta.vocabularySize}`,
      );
    }
    const raw = files["parameters.bin"];
    if (raw === undefined || typeof raw === "string")
      throw new Error("parameters.bin must be bytes");
    if (raw.byteLength !== (2 + 2 * size) * 8) {
      throw new Error(`parameters.bin is ${raw.byteLength} bytes, expected ${(2 + 2 * size) * 8}`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const ham = new Float64Array(size);
    const spam = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      ham[i] = view.getFloat64((2 + i) * 8, true);
      spam[i] = view.getFloat64((2 + size + i) * 8, true);
    }
    return new NaiveBayesClassifier({
      config: meta.config,
      vocabulary,
      documentCounts: meta.documentCounts,
      logPriors: [view.getFloat64(0, true), view.getFloat64(8, true)],
      logLikelihoodsHam: ham,
      logLikelihoodsSpam: spam,
    });
  }

  static #checkHeader(meta: { format: unknown; version: unknown }): void {
    if (meta.format !== MODEL_FORMAT) {
      throw new Error(`not a ${MODEL_FORMAT} model (format ${JSON.stringify(meta.format)})`);
    }
    if (meta.version !== MODEL_VERSION) {
      throw new Error(
        `unsupported model version ${JSON.stringify(meta.version)} (expected ${MODEL_VERSION})`,
      );
    }
  }
}
