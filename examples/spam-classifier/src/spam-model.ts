import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type InvocableResponse,
  type PluginRequest,
  parseWith,
  TrainableModel,
  type TrainContext,
  TrainingError,
  type TrainPluginInput,
  type TrainPluginOutput,
} from "@trainable/core";
import { type Evaluation, evaluate } from "./metrics.js";
import type { NaiveBayesClassifier, Prediction } from "./naive-bayes.js";
import { NaiveBayesClassifier as Classifier } from "./naive-bayes.js";
import {
  SPAM_TRAINING_DEFAULTS,
  type SpamClassifierConfig,
  SpamTrainingInput,
} from "./spam-config.js";
import { splitCorpus } from "./split-corpus.js";
import { trainNaiveBayes } from "./train-naive-bayes.js";
import type { LabeledEmail } from "./types.js";

/** The files of a spam model's checkpoint folder. */
export const SPAM_MODEL_FILES = [
  "config.json",
  "vocabulary.json",
  "parameters.bin",
  "metrics.json",
] as const;

/** `metrics.json`: how the model was trained and how it scored on its holdout. */
export interface SpamModelMetrics {
  dataset: string;
  holdout: number;
  seed: number;
  epochs: number;
  trainExamples: number;
  testExamples: number;
  vocabularySize: number;
  /** Absent when the holdout was 0. */
  evaluation?: Evaluation;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A spam filter as a trainable model: multinomial naive Bayes over email tokens. `train`
 * loads the corpus (SpamAssassin, or a JSONL `trainingDataUrl`), splits it with
 * `testingHoldoutPercent`/`testSplitSeed`, trains for `trainingEpochs`, streams progress and
 * scores the holdout. Its checkpoint folder holds `config.json`, `vocabulary.json`,
 * `parameters.bin` (float64 log-probabilities) and `metrics.json`.
 */
export class SpamModel extends TrainableModel<SpamClassifierConfig> {
  classifier?: NaiveBayesClassifier;
  metrics?: SpamModelMetrics;

  async train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const input = parseWith(
      SpamTrainingInput,
      request.data ?? {},
      "spam-classifier training input",
      "spam-classifier",
    );
    const holdout = input.testingHoldoutPercent ?? SPAM_TRAINING_DEFAULTS.testingHoldoutPercent;
    const seed = input.testSplitSeed ?? SPAM_TRAINING_DEFAULTS.testSplitSeed;
    const epochs = input.trainingEpochs || SPAM_TRAINING_DEFAULTS.trainingEpochs;
    const { signal } = context;

    context.postUpdate({
      trainingProgress: { stage: "loading", epoch: 0, of: epochs, fraction: 0 },
    });
    let split: Awaited<ReturnType<typeof splitCorpus>>;
    try {
      split = await splitCorpus({ trainingDataUrl: input.trainingDataUrl, holdout, seed });
    } catch (error) {
      throw new TrainingError(
        `[spam-classifier] Could not load the training data${input.trainingDataUrl ? ` from trainingDataUrl ${JSON.stringify(input.trainingDataUrl)}` : ""}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const { train, test } = split;
    const labels = new Set(train.map((e) => e.label));
    if (!labels.has("spam") || !labels.has("ham")) {
      throw new TrainingError(
        `[spam-classifier] The training data needs both "spam" and "ham" examples (got ${train.length} training examples labelled ${[...labels].join(", ") || "nothing"})`,
      );
    }
    signal.throwIfAborted();

    // The holdout is scored at the end of every epoch (posted as that epoch's metrics); the
    // last epoch's score is the training's result.
    let evaluation: Evaluation | undefined;
    const classifier = await trainNaiveBayes(train, {
      ...input.trainingParams,
      epochs,
      signal,
      onProgress: ({ epoch, epochs: of, processed, total, phase, mistakes }) => {
        context.postUpdate({
          trainingProgress: {
            stage: "training",
            phase,
            epoch,
            of,
            processed,
            total,
            fraction: (epoch - 1 + processed / total) / of,
            ...(mistakes !== undefined ? { mistakes } : {}),
          },
        });
      },
      onEpoch: async (epoch, model) => {
        if (test.length === 0) return;
        evaluation = await scoreHoldout(model, test, signal);
        context.postUpdate({
          trainingProgress: { stage: "evaluated", epoch, of: epochs, fraction: epoch / epochs },
          trainingResults: { epoch, f1: evaluation.f1, accuracy: evaluation.accuracy },
        });
      },
    });
    signal.throwIfAborted();

    this.classifier = classifier;
    this.metrics = {
      dataset: input.trainingDataUrl || "spam-assassin",
      holdout,
      seed,
      epochs,
      trainExamples: train.length,
      testExamples: test.length,
      vocabularySize: classifier.vocabulary.length,
      ...(evaluation ? { evaluation } : {}),
    };
    context.postUpdate({
      trainingProgress: { stage: "done", epoch: epochs, of: epochs, fraction: 1 },
    });
    return {
      data: { trainingResults: trainingResultsOf(this.metrics) },
      status: { state: "succeeded" },
    };
  }

  /**
   * Classifies one email (raw RFC 822 text or plain text). The threshold is `options.threshold`,
   * else the instance config's, else the one the model was trained with.
   */
  predict(text: string, options: { threshold?: number } = {}): Prediction {
    const prediction = this.#trained().predict(text);
    const threshold = options.threshold ?? this.config?.threshold;
    if (threshold === undefined) return prediction;
    return {
      label: prediction.spamProbability >= threshold ? "spam" : "ham",
      spamProbability: prediction.spamProbability,
    };
  }

  async saveToFolder(dir: string): Promise<void> {
    const files = this.#trained().toFiles();
    await Promise.all([
      writeFile(join(dir, "config.json"), files["config.json"]),
      writeFile(join(dir, "vocabulary.json"), files["vocabulary.json"]),
      writeFile(join(dir, "parameters.bin"), files["parameters.bin"]),
      writeFile(join(dir, "metrics.json"), `${JSON.stringify(this.metrics ?? {}, null, 2)}\n`),
    ]);
  }

  async loadFromFolder(dir: string): Promise<void> {
    const [config, vocabulary, parameters, metrics] = await Promise.all([
      readFile(join(dir, "config.json"), "utf8"),
      readFile(join(dir, "vocabulary.json"), "utf8"),
      readFile(join(dir, "parameters.bin")),
      readFile(join(dir, "metrics.json"), "utf8").catch(() => undefined),
    ]);
    try {
      this.classifier = Classifier.fromFiles({
        "config.json": config,
        "vocabulary.json": vocabulary,
        "parameters.bin": parameters,
      });
    } catch (error) {
      throw new TrainingError(
        `[spam-classifier] ${dir} is not a spam-classifier checkpoint: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.metrics = metrics ? (JSON.parse(metrics) as SpamModelMetrics) : undefined;
  }

  #trained(): NaiveBayesClassifier {
    if (!this.classifier) {
      throw new TrainingError("[spam-classifier] The model is not trained: train or load it first");
    }
    return this.classifier;
  }
}

/** The `trainingResults` of a training: holdout metrics plus how the model was trained. */
/** Scores a model on the holdout, yielding to the event loop every 500 emails. */
async function scoreHoldout(
  model: NaiveBayesClassifier,
  test: readonly LabeledEmail[],
  signal: AbortSignal,
): Promise<Evaluation> {
  const predictions: Prediction[] = [];
  for (let start = 0; start < test.length; start += 500) {
    signal.throwIfAborted();
    for (const example of test.slice(start, start + 500))
      predictions.push(model.predict(example.text));
    await nextTick();
  }
  return evaluate(test, predictions);
}

export function trainingResultsOf(metrics: SpamModelMetrics): Record<string, unknown> {
  const { evaluation, ...info } = metrics;
  if (!evaluation) return { ...info };
  const { accuracy, precision, recall, f1, confusion, groups } = evaluation;
  return {
    accuracy,
    precision,
    recall,
    f1,
    confusion,
    groupErrorRates: Object.fromEntries(
      Object.entries(groups).map(([group, g]) => [group, g.errorRate]),
    ),
    groups,
    ...info,
  };
}
