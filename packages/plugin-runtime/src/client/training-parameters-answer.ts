import {
  type PluginRequest,
  TrainingError,
  type TrainingParameterPluginInput,
  TrainingParameterPluginOutput,
  ValidationError,
} from "@trainable/core";

/**
 * The plugin instance a `getTrainingParameters` request names in its context; a
 * `ValidationError` when `data.pluginInstance` names another one.
 */
export function checkedInstanceIds(
  request: PluginRequest<TrainingParameterPluginInput>,
): string | undefined {
  const contextId = request.context?.pluginInstanceId;
  if (contextId !== undefined && request.data && request.data.pluginInstance !== contextId) {
    throw ValidationError.forField(
      "runtime",
      "data.pluginInstance",
      `"${request.data.pluginInstance}" does not match the plugin instance "${contextId}" the request is for`,
    );
  }
  return contextId;
}

/** The plugin's `getTrainingParameters` answer, checked; a `TrainingError` when invalid. */
export function checkedTrainingParameters(
  answer: unknown,
  name: string,
): TrainingParameterPluginOutput {
  const checked = TrainingParameterPluginOutput.safeParse(answer ?? {});
  if (!checked.success) {
    const problems = ValidationError.fromZod(
      "runtime",
      "TrainingParameterPluginOutput",
      checked.error,
    );
    throw new TrainingError(
      `[runtime] ${name}.getTrainingParameters returned an invalid answer: ${problems.message}`,
    );
  }
  return checked.data;
}
