import { PluginService } from "../../service/plugin-service.js";
import { TaggerInput } from "./tagger-input.js";
import { TaggerOutput } from "./tagger-output.js";

/** A tagger without a trained model: implement `run`. Served at `POST /run` and `POST /tag`. */
export abstract class TaggerPluginService extends PluginService<TaggerInput, TaggerOutput> {
  readonly inputSchema = TaggerInput;
  override readonly outputSchema = TaggerOutput;
  override readonly routeAlias: string = "tag";
}
