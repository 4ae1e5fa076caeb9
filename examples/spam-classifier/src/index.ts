export { loadCorpus } from "./load-corpus.js";
export { loadSpamAssassin } from "./load-spam-assassin.js";
export { type ConfusionMatrix, type Evaluation, evaluate, type GroupErrors } from "./metrics.js";
export { mulberry32 } from "./mulberry32.js";
export {
  NaiveBayesClassifier,
  type NaiveBayesModelFiles,
  type NaiveBayesModelJson,
  type Prediction,
} from "./naive-bayes.js";
export { DEFAULT_NAIVE_BAYES_CONFIG, type NaiveBayesConfig } from "./naive-bayes-config.js";
export { NaiveBayesTrainer } from "./naive-bayes-trainer.js";
export { readJsonlCorpus } from "./read-jsonl-corpus.js";
export { seededShuffle } from "./seeded-shuffle.js";
export { SpamClassifier } from "./spam-classifier-plugin.js";
export {
  SPAM_TRAINING_DEFAULTS,
  SpamClassifierConfig,
  SpamTrainingInput,
  SpamTrainingParams,
} from "./spam-config.js";
export {
  SPAM_MODEL_FILES,
  SpamModel,
  type SpamModelMetrics,
  trainingResultsOf,
} from "./spam-model.js";
export { type Split, type SplitOptions, stratifiedSplit } from "./split.js";
export { type SplitCorpusOptions, splitCorpus } from "./split-corpus.js";
export { type TokenizeOptions, tokenize } from "./tokenize.js";
export {
  type TrainNaiveBayesOptions,
  type TrainProgress,
  trainNaiveBayes,
} from "./train-naive-bayes.js";
export type { CorpusGroup, Label, LabeledEmail } from "./types.js";
