import { describe, expect, it } from "vitest";
import { mergeTrainingParameters } from "./merge-training-parameters.js";

describe("mergeTrainingParameters", () => {
  it("lets the plugin's fields win and merges params key by key", () => {
    const merged = mergeTrainingParameters(
      {
        pluginInstance: "a",
        trainingEpochs: 1,
        testSplitSeed: 7,
        trainingParams: { lr: 0.1, batch: 8 },
        inferenceParams: { threshold: 0.5 },
      },
      { trainingEpochs: 5, trainingParams: { lr: 0.01 }, machineType: "cpu" },
    );
    expect(merged).toEqual({
      pluginInstance: "a",
      trainingEpochs: 5,
      testSplitSeed: 7,
      trainingParams: { lr: 0.01, batch: 8 },
      inferenceParams: { threshold: 0.5 },
    });
  });

  it("keeps the input as it is without an answer", () => {
    expect(mergeTrainingParameters({ pluginInstance: "a" }, undefined)).toEqual({
      pluginInstance: "a",
    });
  });
});
