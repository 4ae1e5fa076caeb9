import { type Id, ValidationError, validateId } from "@trainable/core";
import type { TrainRequest } from "../training/train-request.js";

/** The plugin instance a training request is for (validated): as the client resolves it. */
export function trainingInstanceId(request: TrainRequest): Id {
  const id = request.context?.pluginInstanceId ?? request.data?.pluginInstance;
  if (id === undefined) {
    throw ValidationError.forField("runtime", "context.pluginInstanceId", "is required");
  }
  return validateId(
    id,
    request.context?.pluginInstanceId === undefined
      ? "data.pluginInstance"
      : "context.pluginInstanceId",
  );
}
