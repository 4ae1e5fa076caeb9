import { z } from "zod";
import { TaggerFile } from "./tagger-file.js";

/** The input of a tagger (the original's `BlockAndTagPluginInput`): `{ file: { blocks } }`. */
export const TaggerInput = z.object({ file: TaggerFile });
export type TaggerInput = z.infer<typeof TaggerInput>;
