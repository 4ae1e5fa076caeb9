import { z } from "zod";
import { TrainPluginInput } from "./train-plugin-input.js";

/** Input of `getTrainingParameters`: the user's training request, before the plugin amends it. */
export const TrainingParameterPluginInput = z.object({
  trainPluginInput: TrainPluginInput,
});
export type TrainingParameterPluginInput = z.infer<typeof TrainingParameterPluginInput>;
