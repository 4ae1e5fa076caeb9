import { z } from "zod";
import { TaggerFile } from "./tagger-file.js";

/** The output of a tagger (the original's `BlockAndTagPluginOutput`): the file, with tags. */
export const TaggerOutput = z.object({ file: TaggerFile });
export type TaggerOutput = z.infer<typeof TaggerOutput>;
