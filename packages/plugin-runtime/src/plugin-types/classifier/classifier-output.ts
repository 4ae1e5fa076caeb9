import { z } from "zod";

/** One label and its score (higher is more likely; usually a probability in 0..1). */
export const LabelScore = z.object({
  label: z.string().min(1).max(1024),
  score: z.number(),
});
export type LabelScore = z.infer<typeof LabelScore>;

/** The output of a classifier: one result per input text, labels sorted by score, best first. */
export const ClassifierOutput = z.object({
  results: z.array(z.object({ labels: z.array(LabelScore) })),
});
export type ClassifierOutput = z.infer<typeof ClassifierOutput>;
