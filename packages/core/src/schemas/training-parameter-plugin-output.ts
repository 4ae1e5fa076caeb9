import { z } from "zod";
import { TrainPluginInput } from "./train-plugin-input.js";
import type { TrainingParameterPluginInput } from "./training-parameter-plugin-input.js";

/** Where the training data is exported from (the original's `ExportPluginInput`). */
export const ExportPluginInput = z
  .object({
    pluginInstance: z.string().max(256).optional(),
    id: z.string().max(256).optional(),
    handle: z.string().max(256).optional(),
    type: z.string().max(256).optional(),
    filename: z.string().max(4096).optional(),
    query: z.string().max(100_000).optional(),
  })
  .strict();
export type ExportPluginInput = z.infer<typeof ExportPluginInput>;

/**
 * The hyperparameters a plugin decided on (the original's `TrainingParameterPluginOutput`);
 * they are merged into the `TrainPluginInput`. Unknown keys are refused, naming the key — a
 * plugin ported from the original that answers `{ data: {…} }` learns it at once instead of
 * training with nothing.
 */
export const TrainingParameterPluginOutput = TrainPluginInput.pick({
  trainingEpochs: true,
  testingHoldoutPercent: true,
  testSplitSeed: true,
  trainingParams: true,
  inferenceParams: true,
})
  .extend({
    /** The kind of machine the training should run on, for engines that choose one. */
    machineType: z.string().max(256).optional(),
    /** How to export the training data (from the input's `exportPluginInput`). */
    exportRequest: ExportPluginInput.optional(),
  })
  .strict();
export type TrainingParameterPluginOutput = z.infer<typeof TrainingParameterPluginOutput>;

/**
 * The output that keeps the user's request as it is (the original's `from_input`): a plugin
 * that only amends a few fields starts from it.
 */
export function trainingParametersFromInput(
  input: TrainingParameterPluginInput,
): TrainingParameterPluginOutput {
  const output: TrainingParameterPluginOutput = {};
  if (input.trainingEpochs !== undefined) output.trainingEpochs = input.trainingEpochs;
  if (input.testingHoldoutPercent !== undefined) {
    output.testingHoldoutPercent = input.testingHoldoutPercent;
  }
  if (input.testSplitSeed !== undefined) output.testSplitSeed = input.testSplitSeed;
  if (input.trainingParams !== undefined) output.trainingParams = { ...input.trainingParams };
  if (input.inferenceParams !== undefined) output.inferenceParams = { ...input.inferenceParams };
  if (input.exportPluginInput !== undefined) {
    output.exportRequest = ExportPluginInput.parse(input.exportPluginInput);
  }
  return output;
}
