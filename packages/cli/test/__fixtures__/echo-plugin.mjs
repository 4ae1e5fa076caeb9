// A tiny trainable tagger for the CLI tests: training stores `trainingParams.word`; run tags
// every block containing it. Written against the public APIs only.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TrainableModel } from "@trainable/core";
import { TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { z } from "zod";

class WordModel extends TrainableModel {
  word = "";
  async saveToFolder(dir) {
    await writeFile(join(dir, "word.txt"), this.word);
  }
  async loadFromFolder(dir) {
    this.word = await readFile(join(dir, "word.txt"), "utf8");
  }
  async train(request, context) {
    const word = request.data?.trainingParams?.word;
    if (typeof word !== "string") throw new Error("trainingParams.word must be a string");
    // Optional: each of the 4 steps takes `sleepMs` (a training long enough to cancel).
    const sleepMs = Number(request.data?.trainingParams?.sleepMs ?? 0);
    for (let i = 1; i <= 4; i++) {
      context.postUpdate({ trainingProgress: { fraction: i / 4, step: i } });
      if (sleepMs > 0) await sleep(sleepMs, context.signal);
    }
    this.word = word;
    return {
      data: { trainingResults: { accuracy: 0.5 + word.length / 100 } },
      status: { state: "succeeded" },
    };
  }
}

class WordTagger extends TrainableTaggerPluginService {
  configSchema = z.object({ kind: z.string().default("word") });
  modelClass = WordModel;
  async runWithModel(request, model) {
    const file = request.data.file;
    return {
      file: {
        ...file,
        blocks: file.blocks.map((b) => ({
          ...b,
          tags: b.text.includes(model.word)
            ? [{ kind: model.config?.kind ?? "word", name: model.word }]
            : [],
        })),
      },
    };
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export default new WordTagger();
