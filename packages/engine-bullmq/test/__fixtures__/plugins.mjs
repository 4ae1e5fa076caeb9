// Test plugins in plain JavaScript, so worker child processes (plain `node`) import them too.
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TrainableModel, TrainingError } from "@trainable/core";
import { TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { z } from "zod";

export const CountingConfig = z.object({
  /** Where train starts and saves are counted (one line per event, `{event} {taskId}`). */
  countDir: z.string(),
});

/**
 * A model trained synchronously in `epochs` × `epochMs`, posting progress each epoch. It
 * counts its train starts and saves (saveToFolder is called once per save) in `countDir`.
 */
export class CountingModel extends TrainableModel {
  keywords = [];

  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify({ keywords: this.keywords }));
    await count(this.config.countDir, "save", this.taskId ?? "?");
  }

  async loadFromFolder(dir) {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).keywords;
  }

  async train(request, context) {
    const params = request.data?.trainingParams ?? {};
    this.taskId = request.status?.taskId;
    await count(this.config.countDir, "start", this.taskId ?? "?");
    if (params.fail) throw new TrainingError(`[test] ${params.fail}`);
    const epochs = request.data?.trainingEpochs ?? 1;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (context.signal.aborted) throw context.signal.reason;
      context.postUpdate({ trainingProgress: { epoch, of: epochs } });
      if (params.epochMs) await sleep(params.epochMs, context.signal);
    }
    this.keywords = [...(params.keywords ?? [])];
    return {
      data: { trainingResults: { keywordCount: this.keywords.length, epochs } },
      status: { state: "succeeded" },
    };
  }
}

export class CountingTagger extends TrainableTaggerPluginService {
  configSchema = CountingConfig;
  modelClass = CountingModel;

  async runWithModel(request, model) {
    return {
      file: { ...request.data.file, tags: model.keywords.map((name) => ({ kind: "kw", name })) },
    };
  }
}

export async function count(dir, event, taskId) {
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, "counts.log"), `${event} ${taskId}\n`);
}

/** Counts of `event` per task id, from `countDir/counts.log`. */
export async function readCounts(dir, event) {
  const text = await readFile(join(dir, "counts.log"), "utf8").catch(() => "");
  const counts = new Map();
  for (const line of text.split("\n")) {
    const [e, taskId] = line.split(" ");
    if (e === event) counts.set(taskId, (counts.get(taskId) ?? 0) + 1);
  }
  return counts;
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
