import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type InvocableResponse,
  type PluginRequest,
  parseWith,
  TrainableModel,
  type TrainContext,
  type TrainPluginInput,
  type TrainPluginOutput,
} from "@trainable/core";
import { z } from "zod";
import { type KeywordTaggerConfig, KeywordTrainingInput } from "./config.js";
import { type FindKeywordsOptions, findKeywords, type KeywordMatch } from "./find-keywords.js";

/** The file a keyword model's checkpoint folder holds. */
export const KEYWORDS_FILE = "keywords.json";

const KeywordsFile = z.object({
  format: z.literal("keyword-tagger/keywords"),
  version: z.literal(1),
  keywords: z.array(z.string().min(1)),
});

/**
 * The trainable keyword model: its whole state is a keyword list, saved as `keywords.json`.
 * Training reads the list from `trainingParams.keywords`.
 */
export class KeywordModel extends TrainableModel<KeywordTaggerConfig> {
  keywords: string[] = [];

  get caseSensitive(): boolean {
    return this.config?.caseSensitive ?? false;
  }

  async train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const input = parseWith(
      KeywordTrainingInput,
      request.data,
      "keyword-tagger training input",
      "keyword-tagger",
    );
    context.signal.throwIfAborted();
    const seen = new Set<string>();
    const keywords: string[] = [];
    for (const keyword of input.trainingParams.keywords) {
      const key = this.caseSensitive ? keyword : keyword.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      keywords.push(keyword);
    }
    this.keywords = keywords;
    context.postUpdate({ trainingProgress: { epoch: 1, of: 1, fraction: 1 } });
    return {
      data: {
        trainingResults: {
          keywordCount: keywords.length,
          duplicatesDropped: input.trainingParams.keywords.length - keywords.length,
        },
      },
      status: { state: "succeeded" },
    };
  }

  async saveToFolder(dir: string): Promise<void> {
    const file = { format: "keyword-tagger/keywords", version: 1, keywords: this.keywords };
    await writeFile(join(dir, KEYWORDS_FILE), `${JSON.stringify(file, null, 2)}\n`);
  }

  async loadFromFolder(dir: string): Promise<void> {
    const text = await readFile(join(dir, KEYWORDS_FILE), "utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new Error(`[keyword-tagger] ${KEYWORDS_FILE} is not JSON`, { cause: error });
    }
    this.keywords = parseWith(KeywordsFile, json, KEYWORDS_FILE, "keyword-tagger").keywords;
  }

  /** Every occurrence of this model's keywords in `text` (case as the config says, or `options`). */
  find(text: string, options: FindKeywordsOptions = {}): KeywordMatch[] {
    const caseSensitive = options.caseSensitive ?? this.caseSensitive;
    return findKeywords(text, this.keywords, { caseSensitive });
  }
}
