import { type PluginRequest, pluginRequestSchema, TrainPluginInput } from "@trainable/core";
import { SaveOptions } from "./save-options.js";

/** The body of `POST /train` and `POST /cancelTraining`: a `PluginRequest<TrainPluginInput>` plus `save`. */
export const TrainRequest = pluginRequestSchema(TrainPluginInput).extend({
  save: SaveOptions.optional(),
});

/** A training request: the user's input, context, the last status for checks, and save options. */
export interface TrainRequest extends PluginRequest<TrainPluginInput> {
  save?: SaveOptions;
}
