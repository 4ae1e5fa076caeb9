import { z } from "zod";

/** A tag on a block or a file: a `kind` (e.g. `sentiment`), an optional name, span and value. */
export const Tag = z.object({
  kind: z.string().min(1).max(256),
  name: z.string().max(1024).optional(),
  /** Start character offset in the block's text (inclusive). */
  startIdx: z.number().int().min(0).optional(),
  /** End character offset in the block's text (exclusive). */
  endIdx: z.number().int().min(0).optional(),
  /** Free-form value, e.g. `{ score: 0.93 }`. */
  value: z.record(z.string(), z.unknown()).optional(),
});
export type Tag = z.infer<typeof Tag>;
