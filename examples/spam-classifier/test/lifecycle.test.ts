import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import type { ClassifierOutput, TaskEvent } from "@trainable/plugin-runtime";
import { createLocalEngine } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpamClassifier, SpamModel, splitCorpus } from "../src/index.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "spam-classifier-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function setup(name: string) {
  const store = await createCheckpointStore({
    url: pathToFileURL(join(root, name, "store")).href,
    workspace: "examples",
  });
  const cache = createModelCache({ store, diskDir: join(root, name, "cache") });
  const engine = await createLocalEngine({ store, cache, dataDir: join(root, name, "engine") });
  engine.registerPlugin("spam-classifier", new SpamClassifier());
  return { store, cache, engine };
}

describe("spam classifier through the local engine", () => {
  it("trains on SpamAssassin, reaches holdout F1 >= 0.95, saves, serves and round-trips", async () => {
    const { store, cache, engine } = await setup("lifecycle");
    await engine.createInstance({ id: "spam", plugin: "spam-classifier" });
    const events: TaskEvent[] = [];
    engine.on("task", (event) => events.push(event));

    const task = await engine.train("spam", {}, { handle: "v1" });
    expect(task.state, task.error?.message).toBe("succeeded");
    // getTrainingParameters filled in the defaults.
    expect(task.trainPluginInput).toMatchObject({
      testingHoldoutPercent: 0.2,
      testSplitSeed: 42,
      trainingEpochs: 1,
    });

    const results = task.output!.trainingResults as {
      f1: number;
      accuracy: number;
      testExamples: number;
      confusion: { truePositive: number; falseNegative: number };
      groupErrorRates: Record<string, number>;
    };
    expect(results.f1).toBeGreaterThanOrEqual(0.95);
    expect(results.accuracy).toBeGreaterThanOrEqual(0.97);
    expect(results.testExamples).toBe(1209);
    expect(results.confusion.truePositive + results.confusion.falseNegative).toBeGreaterThan(0);
    expect(Object.keys(results.groupErrorRates).sort()).toEqual([
      "easy-ham-1",
      "easy-ham-2",
      "hard-ham-1",
      "spam-1",
      "spam-2",
    ]);

    // Progress was streamed, ending at fraction 1.
    const progress = events
      .filter((e) => e.type === "update" && e.update?.output?.trainingProgress)
      .map(
        (e) =>
          e.update!.output!.trainingProgress as unknown as {
            fraction: number;
            epoch: number;
            of: number;
          },
      );
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)?.fraction).toBe(1);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.fraction).toBeGreaterThanOrEqual(progress[i - 1]!.fraction);
    }

    // The checkpoint is a folder of real files; v1 and default are the same blob.
    const refs = await store.list({ pluginInstanceId: "spam" });
    const v1 = refs.find((r) => r.handle === "v1")!;
    expect(refs.find((r) => r.handle === "default")?.digest).toBe(v1.digest);
    expect(v1.fileCount).toBe(4);
    const manifest = await store.readManifest({ pluginInstanceId: "spam", ref: v1 });
    expect(manifest.files.map((f) => f.path).sort()).toEqual([
      "config.json",
      "metrics.json",
      "parameters.bin",
      "vocabulary.json",
    ]);
    expect(v1.metadata?.trainingResults).toMatchObject({ f1: results.f1 });

    // Serving: the engine's run loads through the cache.
    const { test } = await splitCorpus({ holdout: 0.2, seed: 42 });
    const sample = test.slice(0, 20);
    const output = (await engine.run("spam", {
      texts: sample.map((e) => e.text),
    })) as ClassifierOutput;
    expect(output.results).toHaveLength(20);
    const correct = output.results.filter((r, i) => r.labels[0]!.label === sample[i]!.label);
    expect(correct.length).toBeGreaterThanOrEqual(18);
    for (const r of output.results) {
      expect(r.labels.map((l) => l.label).sort()).toEqual(["ham", "spam"]);
      expect(r.labels[0]!.score + r.labels[1]!.score).toBeCloseTo(1, 10);
    }

    // Round trip: loaded through the cache, and again without it, predicts identically.
    const cached = await SpamModel.loadRemote({ store, pluginInstanceId: "spam", cache });
    const fresh = await SpamModel.loadRemote({ store, pluginInstanceId: "spam", handle: "v1" });
    expect(cached.metrics?.evaluation?.f1).toBe(results.f1);
    const a = test.map((e) => cached.predict(e.text));
    const b = test.map((e) => fresh.predict(e.text));
    expect(b).toEqual(a);
    const predicted = a.filter((p, i) => p.label === test[i]!.label).length / test.length;
    expect(predicted).toBe(results.accuracy);

    // Save/load through a local folder gives identical bytes and predictions.
    const dir = join(root, "folder");
    await rm(dir, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(dir));
    await fresh.saveToFolder(dir);
    expect((await readdir(dir)).sort()).toEqual([
      "config.json",
      "metrics.json",
      "parameters.bin",
      "vocabulary.json",
    ]);
    const local = await SpamModel.loadFromLocalCheckpoint({ folder: dir });
    expect(test.slice(0, 100).map((e) => local.predict(e.text))).toEqual(a.slice(0, 100));
    await engine.close();
  });

  it("trains on a JSONL file with epochs, seed and holdout; a bad input fails naming the field", async () => {
    const { engine } = await setup("jsonl");
    const { writeFile } = await import("node:fs/promises");
    const lines: string[] = [];
    const spam = ["win money now", "cheap pills offer", "free prize click", "buy viagra cheap"];
    const ham = ["meeting at noon", "lunch tomorrow?", "project report attached", "see you soon"];
    for (let i = 0; i < 30; i++) {
      lines.push(JSON.stringify({ text: `${spam[i % 4]} ${i}`, label: "spam" }));
      lines.push(JSON.stringify({ text: `${ham[i % 4]} ${i}`, label: "ham" }));
    }
    const data = join(root, "data.jsonl");
    await writeFile(data, `${lines.join("\n")}\n`);
    await engine.createInstance({ id: "tiny", plugin: "spam-classifier" });
    const task = await engine.train("tiny", {
      trainingDataUrl: pathToFileURL(data).href,
      trainingEpochs: 3,
      testingHoldoutPercent: 0.25,
      testSplitSeed: 7,
      trainingParams: { minDocumentFrequency: "1" },
    });
    expect(task.state, task.error?.message).toBe("succeeded");
    expect(task.output?.trainingResults).toMatchObject({
      f1: 1,
      epochs: 3,
      seed: 7,
      holdout: 0.25,
      testExamples: 16,
      trainExamples: 44,
    });
    expect(task.progress).toMatchObject({ epoch: 3, of: 3, fraction: 1 });
    // Each epoch's holdout score was posted (what the dashboard charts while training); the
    // last one is the training's result.
    const perEpoch = task.updates
      .map(
        (u) =>
          (("output" in u.update ? u.update.output : u.update) as { trainingResults?: object })
            ?.trainingResults,
      )
      .filter((r): r is Record<string, number> => r !== undefined);
    expect(perEpoch.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(perEpoch.at(-1)?.f1).toBe(task.output?.trainingResults?.f1);

    const bad = await engine.train("tiny", { trainingParams: { alpha: -1 } });
    expect(bad.state).toBe("failed");
    expect(bad.error?.code).toBe("VALIDATION");
    expect(bad.error?.message).toContain("trainingParams.alpha");

    const missing = await engine.train("tiny", { trainingDataUrl: join(root, "nope.jsonl") });
    expect(missing.state).toBe("failed");
    expect(missing.error?.message).toContain("trainingDataUrl");
    await engine.close();
  });

  it("stops when the training is cancelled", async () => {
    const { engine, store } = await setup("cancel");
    await engine.createInstance({ id: "spam", plugin: "spam-classifier" });
    const run = await engine.startTraining("spam", { trainingEpochs: 5 });
    for await (const event of engine.watch(run.taskId)) {
      if (event.type === "update") break;
    }
    const cancelled = await engine.cancel(run.taskId);
    expect(cancelled.state).toBe("cancelled");
    expect(await store.list({ pluginInstanceId: "spam" })).toEqual([]);
    await engine.close();
  });
});
