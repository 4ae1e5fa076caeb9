import { z } from "zod";
import { Tag } from "./tag.js";

/** A block of text in a file, with the tags a tagger put on it. */
export const Block = z.object({
  id: z.string().max(256).optional(),
  text: z.string(),
  tags: z.array(Tag).optional(),
});
export type Block = z.infer<typeof Block>;
