import { type PluginRequest, pluginRequestSchema, TrainPluginInput } from "@trainable/core";
import { z } from "zod";
import { SaveOptions } from "./save-options.js";

/**
 * The body of `POST /train` and `POST /cancelTraining`: a `PluginRequest<TrainPluginInput>` plus
 * `save`, and `retry` on a train call repeated for the same `status.taskId` after the caller
 * lost its answer (a crash, a dropped connection): the plugin side then continues that
 * training — reattaching to its job, or answering the save it already made — instead of
 * starting another one.
 */
export const TrainRequest = pluginRequestSchema(TrainPluginInput).extend({
  save: SaveOptions.optional(),
  retry: z.boolean().optional(),
});

/** A training request: the user's input, context, the last status for checks, and save options. */
export interface TrainRequest extends PluginRequest<TrainPluginInput> {
  save?: SaveOptions;
  /** This train call repeats one whose answer was lost (same `status.taskId`). */
  retry?: boolean;
}
