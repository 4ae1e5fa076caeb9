import { z } from "zod";

/** A keyword-tagger plugin instance's config, checked when the instance is created. */
export const KeywordTaggerConfig = z
  .object({
    /** The `kind` of every tag this instance emits. */
    tagKind: z.string().min(1).max(256).default("keyword"),
    /** Match keywords with their exact case. Default false: `Spam` matches `spam` and `SPAM`. */
    caseSensitive: z.boolean().default(false),
  })
  // An instance created without a config gets the defaults.
  .prefault({});
export type KeywordTaggerConfig = z.infer<typeof KeywordTaggerConfig>;

/** One keyword: trimmed, non-empty. */
const Keyword = z.string().trim().min(1, "must not be empty").max(256);

/**
 * The keyword list a training takes from `trainingParams.keywords`: a JSON array of strings,
 * or one comma-separated string (what `trainable train --param keywords=a,b,c` passes).
 * Duplicates are dropped (case-insensitively unless the instance is case-sensitive).
 */
export const KeywordList = z.preprocess(
  (value) => (typeof value === "string" ? value.split(",") : value),
  z.array(Keyword).min(1, "needs at least one keyword").max(10_000),
);

/** The part of a `TrainPluginInput` this model reads. */
export const KeywordTrainingInput = z.object({
  // Absent trainingParams still fails on (and names) trainingParams.keywords.
  trainingParams: z.object({ keywords: KeywordList }).prefault({ keywords: undefined }),
});
