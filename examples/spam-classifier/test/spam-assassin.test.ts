import { describe, expect, it } from "vitest";
import { loadSpamAssassin } from "../src/load-spam-assassin.js";
import { evaluate } from "../src/metrics.js";
import { NaiveBayesClassifier } from "../src/naive-bayes.js";
import { stratifiedSplit } from "../src/split.js";
import { trainNaiveBayes } from "../src/train-naive-bayes.js";

describe("SpamAssassin end to end", () => {
  it("reaches spam F1 >= 0.95 on a 20% holdout (seed 42)", async () => {
    const started = performance.now();
    const { train, test } = stratifiedSplit(loadSpamAssassin(), { holdout: 0.2, seed: 42 });
    const model = await trainNaiveBayes(train);
    const trained = performance.now();
    const predictions = test.map((example) => model.predict(example.text));
    const result = evaluate(test, predictions);
    const finished = performance.now();

    const groups = Object.fromEntries(
      Object.entries(result.groups).map(([group, g]) => [group, `${g.errors}/${g.total}`]),
    );
    console.log(
      JSON.stringify({
        train: train.length,
        test: test.length,
        vocabulary: model.vocabulary.length,
        f1: result.f1,
        precision: result.precision,
        recall: result.recall,
        accuracy: result.accuracy,
        confusion: result.confusion,
        groupErrors: groups,
        loadAndTrainMs: Math.round(trained - started),
        evaluateMs: Math.round(finished - trained),
      }),
    );
    expect(test.length).toBe(1209);
    expect(result.f1).toBeGreaterThanOrEqual(0.95);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.97);
    expect(finished - started).toBeLessThan(30_000);

    const restored = NaiveBayesClassifier.fromFiles(model.toFiles());
    const again = test.map((example) => restored.predict(example.text));
    expect(again).toEqual(predictions);
  });
});
