import type { PluginRequest } from "@trainable/core";
import {
  type PluginRunContext,
  type TaggerInput,
  type TaggerOutput,
  TrainableTaggerPluginService,
} from "@trainable/plugin-runtime";
import { KeywordTaggerConfig } from "./config.js";
import { KeywordModel } from "./keyword-model.js";

/**
 * The keyword tagger plugin (`POST /run`, alias `POST /tag`): tags each block with
 * `{ kind: config.tagKind, name: keyword, startIdx, endIdx }` for every keyword occurrence.
 */
export class KeywordTagger extends TrainableTaggerPluginService<KeywordTaggerConfig, KeywordModel> {
  readonly configSchema = KeywordTaggerConfig;
  readonly modelClass = KeywordModel;

  async runWithModel(
    request: PluginRequest<TaggerInput>,
    model: KeywordModel,
    context: PluginRunContext<KeywordTaggerConfig>,
  ): Promise<TaggerOutput> {
    const file = request.data!.file;
    // The instance's current config wins over the one the cached model was loaded with.
    const config = context.instance?.config ?? model.config;
    const kind = config?.tagKind ?? "keyword";
    const caseSensitive = config?.caseSensitive ?? false;
    return {
      file: {
        ...file,
        blocks: file.blocks.map((block) => ({
          ...block,
          tags: [
            ...(block.tags ?? []),
            ...model.find(block.text, { caseSensitive }).map(({ keyword, startIdx, endIdx }) => ({
              kind,
              name: keyword,
              startIdx,
              endIdx,
            })),
          ],
        })),
      },
    };
  }
}
