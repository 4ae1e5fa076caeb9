import type { TrainingParameterPluginOutput, TrainPluginInput } from "@trainable/core";

/**
 * Merges the plugin's answer to `getTrainingParameters` into the user's input: the plugin's
 * scalar fields win when set; `trainingParams` and `inferenceParams` are merged key by key,
 * the plugin's keys winning.
 */
export function mergeTrainingParameters(
  input: TrainPluginInput,
  params: TrainingParameterPluginOutput | undefined,
): TrainPluginInput {
  if (!params) return { ...input };
  const merged: TrainPluginInput = { ...input };
  if (params.trainingEpochs !== undefined) merged.trainingEpochs = params.trainingEpochs;
  if (params.testingHoldoutPercent !== undefined) {
    merged.testingHoldoutPercent = params.testingHoldoutPercent;
  }
  if (params.testSplitSeed !== undefined) merged.testSplitSeed = params.testSplitSeed;
  if (input.trainingParams || params.trainingParams) {
    merged.trainingParams = { ...input.trainingParams, ...params.trainingParams };
  }
  if (input.inferenceParams || params.inferenceParams) {
    merged.inferenceParams = { ...input.inferenceParams, ...params.inferenceParams };
  }
  return merged;
}
