import type { z } from "zod";
import { JsonObject } from "./json-object.js";
import { TrainPluginInput } from "./train-plugin-input.js";

/**
 * Input of `getTrainingParameters`: the user's training request, before the plugin amends
 * it. Flat, as the original engine sends it (`pluginInstance`, `trainingEpochs`, …), plus the
 * optional `exportPluginInput` describing how training data is exported.
 */
export const TrainingParameterPluginInput = TrainPluginInput.extend({
  exportPluginInput: JsonObject.optional(),
});
export type TrainingParameterPluginInput = z.infer<typeof TrainingParameterPluginInput>;
