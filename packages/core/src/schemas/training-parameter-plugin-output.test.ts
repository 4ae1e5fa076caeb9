import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { TrainingParameterPluginOutput } from "./training-parameter-plugin-output.js";

describe("TrainingParameterPluginOutput schema", () => {
  const full = {
    machineLearningTask: "classification",
    trainingEpochs: 5,
    testingHoldoutPercent: 0.1,
    testSplitSeed: 7,
    trainingParams: { learningRate: 0.01 },
    inferenceParams: { threshold: 0.7 },
  };

  it("accepts a full and an empty output", () => {
    expect(TrainingParameterPluginOutput.parse(full)).toEqual(full);
    expect(TrainingParameterPluginOutput.parse({})).toEqual({});
  });

  it("lists both a negative trainingEpochs and testingHoldoutPercent 1.5", () => {
    expectIssuePaths(
      TrainingParameterPluginOutput,
      { ...full, trainingEpochs: -1, testingHoldoutPercent: 1.5 },
      ["trainingEpochs", "testingHoldoutPercent"],
      "TrainingParameterPluginOutput",
    );
  });

  it("lists every bad field at once", () => {
    expectIssuePaths(
      TrainingParameterPluginOutput,
      {
        machineLearningTask: 3,
        trainingEpochs: 0.5,
        testingHoldoutPercent: -1,
        testSplitSeed: "7",
        trainingParams: [],
        inferenceParams: "x",
      },
      [
        "machineLearningTask",
        "trainingEpochs",
        "testingHoldoutPercent",
        "testSplitSeed",
        "trainingParams",
        "inferenceParams",
      ],
      "TrainingParameterPluginOutput",
    );
  });
});
