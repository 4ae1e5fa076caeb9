import { z } from "zod";
import { Block } from "./block.js";
import { Tag } from "./tag.js";

/** A file as a tagger sees it: blocks of text, and tags on the whole file. */
export const TaggerFile = z.object({
  id: z.string().max(256).optional(),
  blocks: z.array(Block).max(100_000),
  tags: z.array(Tag).optional(),
});
export type TaggerFile = z.infer<typeof TaggerFile>;
