// A small trainable tagger for the hostile-request tests, in plain JavaScript so the real
// `trainable` binary can load it with --plugin. Its model is a word list saved as words.json;
// `run` tags every block containing one of the words.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { TrainableModel } from "@trainable/core";
import { TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { z } from "zod";

/** The instance config: strict, so unknown keys are refused. */
export const TaggerConfig = z
  .object({ tagKind: z.string().min(1).max(64).default("word") })
  .strict()
  .prefault({});

export class WordModel extends TrainableModel {
  /** @type {string[]} */
  words = [];

  async saveToFolder(dir) {
    await writeFile(join(dir, "words.json"), JSON.stringify({ words: this.words }));
  }

  async loadFromFolder(dir) {
    const parsed = JSON.parse(await readFile(join(dir, "words.json"), "utf8"));
    this.words = Array.isArray(parsed.words) ? parsed.words.map(String) : [];
  }

  async train(request, context) {
    // A slow training, when asked: `steps` steps of `stepMs`, a progress update after each.
    const { steps, stepMs } = request.data?.trainingParams ?? {};
    const count = Number.isSafeInteger(steps) && steps > 0 ? steps : 0;
    for (let step = 1; step <= count; step++) {
      await delay(Number(stepMs) || 0, undefined, { signal: context?.signal });
      context.postUpdate({
        statusMessage: `step ${step} of ${count}`,
        output: { trainingProgress: { step, of: count, fraction: step / count } },
      });
    }
    const words = request.data?.trainingParams?.words;
    this.words = Array.isArray(words) ? words.filter((w) => typeof w === "string") : ["spam"];
    return {
      status: { state: "succeeded" },
      data: { trainingResults: { words: this.words.length } },
    };
  }
}

class HostileTagger extends TrainableTaggerPluginService {
  configSchema = TaggerConfig;
  modelClass = WordModel;

  async runWithModel(request, model, context) {
    const kind = context.instance?.config?.tagKind ?? "word";
    const file = request.data.file;
    const blocks = file.blocks.map((block) => ({
      ...block,
      tags: model.words.filter((w) => block.text.includes(w)).map((name) => ({ kind, name })),
    }));
    return { file: { ...file, blocks } };
  }
}

export default HostileTagger;
