import type { NaiveBayesClassifier } from "./naive-bayes.js";
import type { NaiveBayesConfig } from "./naive-bayes-config.js";
import { NaiveBayesTrainer } from "./naive-bayes-trainer.js";
import { tokenize } from "./tokenize.js";
import type { Label } from "./types.js";

/** Progress reported by {@link trainNaiveBayes} after every chunk of documents. */
export interface TrainProgress {
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  /** `"count"` for epoch 1, `"refine"` for the mistake-driven epochs after it. */
  phase: "count" | "refine";
  /** Documents processed in this epoch so far. */
  processed: number;
  total: number;
  /** Refinement epochs only: training documents misclassified so far in this epoch. */
  mistakes?: number;
}

/** Options for {@link trainNaiveBayes}: model hyper-parameters plus loop controls. */
export interface TrainNaiveBayesOptions extends Partial<NaiveBayesConfig> {
  /**
   * Passes over the training data, default 1. Epoch 1 is ordinary naive Bayes counting (which
   * is all NB needs). Each later epoch classifies the training set with the model built at the
   * end of the previous epoch and adds the token counts of every misclassified email once more
   * ("train on errors"); an epoch without mistakes changes nothing, so extra epochs are cheap.
   */
  epochs?: number;
  /** Documents per progress report / event-loop yield. Default 500. */
  chunkSize?: number;
  /** Checked between chunks; aborting rejects with the signal's reason. */
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  /** Called with the model as it stands at the end of each epoch (e.g. to score a holdout). */
  onEpoch?: (epoch: number, model: NaiveBayesClassifier) => void | Promise<void>;
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Trains a {@link NaiveBayesClassifier} on labelled texts. Tokenizes each document once, counts
 * in chunks (yielding to the event loop and reporting progress between chunks), then runs the
 * optional refinement epochs described on {@link TrainNaiveBayesOptions.epochs}.
 */
export async function trainNaiveBayes(
  examples: readonly { text: string; label: Label }[],
  options: TrainNaiveBayesOptions = {},
): Promise<NaiveBayesClassifier> {
  const { epochs = 1, chunkSize = 500, signal, onProgress, onEpoch, ...config } = options;
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new RangeError(`epochs must be a positive integer`);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be >= 1`);
  const trainer = new NaiveBayesTrainer(config);
  const total = examples.length;
  const tokens: string[][] = new Array(total);

  for (let start = 0; start < total; start += chunkSize) {
    signal?.throwIfAborted();
    const end = Math.min(start + chunkSize, total);
    for (let i = start; i < end; i++) {
      const example = examples[i]!;
      tokens[i] = tokenize(example.text, trainer.config.tokenizer);
      trainer.addDocument(tokens[i]!, example.label);
    }
    await onProgress?.({ epoch: 1, epochs, phase: "count", processed: end, total });
    await nextTick();
  }

  let model = trainer.build();
  await onEpoch?.(1, model);
  for (let epoch = 2; epoch <= epochs; epoch++) {
    let mistakes = 0;
    for (let start = 0; start < total; start += chunkSize) {
      signal?.throwIfAborted();
      const end = Math.min(start + chunkSize, total);
      for (let i = start; i < end; i++) {
        const label = examples[i]!.label;
        if (model.predictTokens(tokens[i]!).label !== label) {
          mistakes++;
          trainer.addDocument(tokens[i]!, label, { reinforce: true });
        }
      }
      await onProgress?.({ epoch, epochs, phase: "refine", processed: end, total, mistakes });
      await nextTick();
    }
    if (mistakes > 0) model = trainer.build();
    await onEpoch?.(epoch, model);
  }
  signal?.throwIfAborted();
  return model;
}
