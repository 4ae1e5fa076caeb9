import { z } from "zod";
import { JsonObject } from "./json-object.js";

/** The hyperparameters a plugin decided on; they are merged into the `TrainPluginInput`. */
export const TrainingParameterPluginOutput = z.object({
  machineLearningTask: z.string().optional(),
  trainingEpochs: z.number().int().min(0).max(1_000_000).optional(),
  testingHoldoutPercent: z.number().min(0).max(1).optional(),
  testSplitSeed: z.number().int().optional(),
  trainingParams: JsonObject.optional(),
  inferenceParams: JsonObject.optional(),
});
export type TrainingParameterPluginOutput = z.infer<typeof TrainingParameterPluginOutput>;
