import type { TrainableModel } from "@trainable/core";
import { TrainablePluginService } from "../../service/trainable-plugin-service.js";
import { ClassifierInput } from "./classifier-input.js";
import { ClassifierOutput } from "./classifier-output.js";

/**
 * A classifier backed by a trainable model: implement `configSchema`, `modelClass` and
 * `runWithModel(request, model)`. Served at `POST /run` and `POST /classify`.
 */
export abstract class TrainableClassifierPluginService<
  Config,
  Model extends TrainableModel<Config>,
> extends TrainablePluginService<ClassifierInput, ClassifierOutput, Config, Model> {
  readonly inputSchema = ClassifierInput;
  override readonly outputSchema = ClassifierOutput;
  override readonly routeAlias: string = "classify";
}
