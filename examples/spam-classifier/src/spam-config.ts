import { z } from "zod";

/** A number, also accepted as a numeric string (what `trainable train --param k=v` may pass). */
const numeric = () =>
  z.preprocess(
    (value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value),
    z.number(),
  );
/** A boolean, also accepted as `"true"` / `"false"`. */
const boolean = () =>
  z.preprocess(
    (value) => (value === "true" ? true : value === "false" ? false : value),
    z.boolean(),
  );

/** A spam-classifier plugin instance's config, checked when the instance is created. */
export const SpamClassifierConfig = z
  .object({
    /**
     * Spam probability from which an email is labelled `spam` at inference. Default: the
     * threshold the model was trained with (0.5 unless `trainingParams.threshold` said otherwise).
     */
    threshold: z.number().min(0).max(1).optional(),
  })
  // An instance created without a config gets the defaults.
  .prefault({});
export type SpamClassifierConfig = z.infer<typeof SpamClassifierConfig>;

/** Hyper-parameters a training takes from `trainingParams` (all optional). */
export const SpamTrainingParams = z.object({
  /** Additive smoothing; default 1. */
  alpha: numeric().pipe(z.number().positive().max(1_000)).optional(),
  /** Drop tokens seen in fewer training emails than this; default 2. */
  minDocumentFrequency: numeric().pipe(z.number().int().min(1).max(1_000_000)).optional(),
  /** Keep at most this many tokens; default 50,000. */
  maxVocabularySize: numeric().pipe(z.number().int().min(1).max(10_000_000)).optional(),
  /** Count each token once per email (binarized naive Bayes); default true. */
  binary: boolean().optional(),
  /** Spam probability from which an email is labelled spam; default 0.5. */
  threshold: numeric().pipe(z.number().min(0).max(1)).optional(),
});
export type SpamTrainingParams = z.infer<typeof SpamTrainingParams>;

/** Defaults of the split and the training loop (also what `getTrainingParameters` fills in). */
export const SPAM_TRAINING_DEFAULTS = {
  testingHoldoutPercent: 0.2,
  testSplitSeed: 42,
  trainingEpochs: 1,
} as const;

/** The part of a `TrainPluginInput` the spam model reads. */
export const SpamTrainingInput = z.object({
  /** Passes over the data; 0 or absent: 1. */
  trainingEpochs: z.number().int().min(0).max(100).optional(),
  testingHoldoutPercent: z
    .number()
    .min(0)
    .lt(1, "must be below 1: some data must be left to train on")
    .optional(),
  testSplitSeed: z
    .number()
    .int()
    .min(Number.MIN_SAFE_INTEGER)
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
  /** A JSONL file (`{"text","label"}` per line) as a path or `file:` URL; absent: SpamAssassin. */
  trainingDataUrl: z.string().optional(),
  trainingParams: SpamTrainingParams.optional(),
});
export type SpamTrainingInput = z.infer<typeof SpamTrainingInput>;
