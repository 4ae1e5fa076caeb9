import { z } from "zod";

/** The input of a classifier: texts to label. */
export const ClassifierInput = z.object({
  texts: z.array(z.string()).min(1).max(10_000),
  /** Keep only the best `topK` labels per text. */
  topK: z.number().int().min(1).max(10_000).optional(),
});
export type ClassifierInput = z.infer<typeof ClassifierInput>;
