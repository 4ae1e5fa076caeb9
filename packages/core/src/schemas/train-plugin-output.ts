import { z } from "zod";
import { JsonObject } from "./json-object.js";

/**
 * What a training job reports (the original's `TrainPluginOutput`). Posted in part while
 * training (`postUpdate`) and in full at the end.
 */
export const TrainPluginOutput = z.object({
  pluginInstanceId: z.string().optional(),
  /** The blob key of the saved checkpoint (set by `saveRemote`). */
  archivePath: z.string().optional(),
  inferenceParams: JsonObject.optional(),
  /** Progress while training, e.g. `{ epoch: 2, of: 5, fraction: 0.4 }`. */
  trainingProgress: JsonObject.optional(),
  /** Final metrics, e.g. `{ accuracy: 0.98, f1: 0.96 }`. */
  trainingResults: JsonObject.optional(),
});
export type TrainPluginOutput = z.infer<typeof TrainPluginOutput>;
