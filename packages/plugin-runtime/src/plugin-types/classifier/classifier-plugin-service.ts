import { PluginService } from "../../service/plugin-service.js";
import { ClassifierInput } from "./classifier-input.js";
import { ClassifierOutput } from "./classifier-output.js";

/** A classifier without a trained model: implement `run`. Served at `POST /run` and `POST /classify`. */
export abstract class ClassifierPluginService extends PluginService<
  ClassifierInput,
  ClassifierOutput
> {
  readonly inputSchema = ClassifierInput;
  override readonly outputSchema = ClassifierOutput;
  override readonly routeAlias: string = "classify";
}
