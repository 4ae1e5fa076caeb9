import type { TrainableModel } from "@trainable/core";
import type { TrainablePluginService } from "./trainable-plugin-service.js";

/** Any trainable plugin, whatever its input, output, config and model types. */
// biome-ignore lint/suspicious/noExplicitAny: erases the plugin's type parameters
export type AnyTrainablePluginService = TrainablePluginService<any, any, any, TrainableModel<any>>;
