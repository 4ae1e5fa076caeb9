import type { TrainableModel } from "@trainable/core";
import { TrainablePluginService } from "../../service/trainable-plugin-service.js";
import { TaggerInput } from "./tagger-input.js";
import { TaggerOutput } from "./tagger-output.js";

/**
 * A tagger backed by a trainable model: implement `configSchema`, `modelClass` and
 * `runWithModel(request, model)`. Served at `POST /run` and `POST /tag`.
 */
export abstract class TrainableTaggerPluginService<
  Config,
  Model extends TrainableModel<Config>,
> extends TrainablePluginService<TaggerInput, TaggerOutput, Config, Model> {
  readonly inputSchema = TaggerInput;
  override readonly outputSchema = TaggerOutput;
  override readonly routeAlias: string = "tag";
}
