import type {
  InvocableResponse,
  PluginRequest,
  TrainableModel,
  TrainContext,
  TrainPluginInput,
  TrainPluginOutput,
} from "@trainable/core";
import type { TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import type { z } from "zod";

export declare const TaggerConfig: z.ZodType<{ tagKind: string }>;
export type TaggerConfig = { tagKind: string };

export declare class WordModel extends TrainableModel<TaggerConfig> {
  words: string[];
  saveToFolder(dir: string): Promise<void>;
  loadFromFolder(dir: string): Promise<void>;
  train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>>;
}

declare class HostileTagger extends TrainableTaggerPluginService<TaggerConfig, WordModel> {
  readonly configSchema: z.ZodType<TaggerConfig>;
  readonly modelClass: typeof WordModel;
  runWithModel: TrainableTaggerPluginService<TaggerConfig, WordModel>["runWithModel"];
}

export default HostileTagger;
