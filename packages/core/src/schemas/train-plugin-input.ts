import { z } from "zod";
import { Id } from "./id.js";
import { JsonObject } from "./json-object.js";

/** Everything that parameterizes one training job (the original's `TrainPluginInput`). */
export const TrainPluginInput = z.object({
  /** The plugin instance being trained. */
  pluginInstance: Id,
  /** Passes over the training data; 0 lets the plugin decide. */
  trainingEpochs: z.number().int().min(0).max(1_000_000).optional(),
  /** Fraction (0..1) of the data held out for testing. */
  testingHoldoutPercent: z.number().min(0).max(1).optional(),
  /** Seed of the train/test split, for reproducible runs. */
  testSplitSeed: z.number().int().optional(),
  /** Hyperparameters and anything else the training needs. */
  trainingParams: JsonObject.optional(),
  /** Parameters stored with the model and used at inference. */
  inferenceParams: JsonObject.optional(),
  /** Where the training data is (a URL or a path the plugin understands). */
  trainingDataUrl: z.string().min(1).max(4096).optional(),
});
export type TrainPluginInput = z.infer<typeof TrainPluginInput>;
