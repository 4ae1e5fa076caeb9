import { describe, expect, it } from "vitest";
import { NaiveBayesClassifier } from "./naive-bayes.js";
import { NaiveBayesTrainer } from "./naive-bayes-trainer.js";
import { type TrainProgress, trainNaiveBayes } from "./train-naive-bayes.js";
import type { Label } from "./types.js";

const corpus: { text: string; label: Label }[] = [
  { text: "win money now free prize claim", label: "spam" },
  { text: "free money offer click now", label: "spam" },
  { text: "claim your free prize winner", label: "spam" },
  { text: "cheap pills free offer money", label: "spam" },
  { text: "meeting agenda for tomorrow project", label: "ham" },
  { text: "project status report attached meeting", label: "ham" },
  { text: "lunch tomorrow with the team", label: "ham" },
  { text: "please review the project report", label: "ham" },
  { text: "team meeting notes and agenda", label: "ham" },
];

describe("naive Bayes", () => {
  it("learns a tiny synthetic corpus", async () => {
    const model = await trainNaiveBayes(corpus, { minDocumentFrequency: 1 });
    expect(model.predict("free money prize").label).toBe("spam");
    expect(model.predict("project meeting tomorrow").label).toBe("ham");
    const spam = model.predict("claim free money now");
    expect(spam.spamProbability).toBeGreaterThan(0.9);
    expect(model.predict("team agenda report").spamProbability).toBeLessThan(0.1);
    // Unknown tokens carry no evidence: only the prior (4 spam / 9) decides.
    expect(model.predict("zzz qqq").spamProbability).toBeCloseTo(5 / 11);
    expect(model.documentCounts).toEqual({ ham: 5, spam: 4 });
    for (const { text, label } of corpus) expect(model.predict(text).label).toBe(label);
  });

  it("trains incrementally and prunes the vocabulary", () => {
    const trainer = new NaiveBayesTrainer({ minDocumentFrequency: 2, maxVocabularySize: 3 });
    for (const { text, label } of corpus) trainer.addDocument(text.split(" "), label);
    expect(trainer.documentCounts).toEqual({ ham: 5, spam: 4 });
    const model = trainer.build();
    // df: free 4, meeting 3, money 3, project 3, ...; ties broken alphabetically, stored sorted.
    expect(model.vocabulary).toEqual(["free", "meeting", "money"]);
    expect(new NaiveBayesTrainer({ minDocumentFrequency: 5 }).build().vocabulary).toEqual([]);
    expect(() => new NaiveBayesTrainer({ alpha: 0 })).toThrow(RangeError);
  });

  it("uses Laplace-smoothed log-likelihoods that normalise per class", async () => {
    const model = await trainNaiveBayes(corpus, {
      minDocumentFrequency: 1,
      binary: false,
      alpha: 1,
    });
    for (const logs of [model.logLikelihoodsHam, model.logLikelihoodsSpam]) {
      const sum = logs.reduce((acc, x) => acc + Math.exp(x), 0);
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it("round-trips through JSON and files with identical predictions", async () => {
    const model = await trainNaiveBayes(corpus, { minDocumentFrequency: 1, alpha: 0.5 });
    const probes = [...corpus.map((c) => c.text), "free lunch", "report money", "nothing known"];
    const viaJson = NaiveBayesClassifier.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    const files = model.toFiles();
    expect(Object.keys(files).sort()).toEqual(["config.json", "parameters.bin", "vocabulary.json"]);
    expect(files["parameters.bin"].byteLength).toBe((2 + 2 * model.vocabulary.length) * 8);
    const viaFiles = NaiveBayesClassifier.fromFiles({
      "config.json": Buffer.from(files["config.json"]),
      "vocabulary.json": files["vocabulary.json"],
      "parameters.bin": new Uint8Array(files["parameters.bin"]),
    });
    for (const restored of [viaJson, viaFiles]) {
      expect(restored.vocabulary).toEqual(model.vocabulary);
      expect(restored.config).toEqual(model.config);
      for (const text of probes) expect(restored.predict(text)).toEqual(model.predict(text));
    }
  });

  it("rejects foreign or inconsistent model files", async () => {
    const files = (await trainNaiveBayes(corpus, { minDocumentFrequency: 1 })).toFiles();
    const config = JSON.parse(files["config.json"]);
    expect(() =>
      NaiveBayesClassifier.fromFiles({
        ...files,
        "config.json": JSON.stringify({ ...config, version: 2 }),
      }),
    ).toThrow(/version/);
    expect(() =>
      NaiveBayesClassifier.fromFiles({
        ...files,
        "parameters.bin": files["parameters.bin"].subarray(8),
      }),
    ).toThrow(/bytes/);
    expect(() => NaiveBayesClassifier.fromFiles({ ...files, "vocabulary.json": "[]" })).toThrow(
      /vocabulary/,
    );
  });

  it("reports progress per chunk and runs mistake-driven refinement epochs", async () => {
    const events: TrainProgress[] = [];
    const model = await trainNaiveBayes(corpus, {
      minDocumentFrequency: 1,
      epochs: 3,
      chunkSize: 4,
      onProgress: (p) => {
        events.push(p);
      },
    });
    expect(events.map((e) => [e.epoch, e.phase, e.processed])).toEqual([
      [1, "count", 4],
      [1, "count", 8],
      [1, "count", 9],
      [2, "refine", 4],
      [2, "refine", 8],
      [2, "refine", 9],
      [3, "refine", 4],
      [3, "refine", 8],
      [3, "refine", 9],
    ]);
    expect(events.at(-1)?.mistakes).toBe(0);
    expect(model.predict("free money").label).toBe("spam");
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    const run = trainNaiveBayes(corpus, {
      chunkSize: 2,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error("stop")),
    });
    await expect(run).rejects.toThrow("stop");
  });
});
