import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import {
  TrainingParameterPluginOutput,
  trainingParametersFromInput,
} from "./training-parameter-plugin-output.js";

describe("TrainingParameterPluginOutput schema (the original's shape)", () => {
  const full = {
    machineType: "gpu-small",
    trainingEpochs: 5,
    testingHoldoutPercent: 0.1,
    testSplitSeed: 7,
    trainingParams: { learningRate: 0.01 },
    inferenceParams: { threshold: 0.7 },
    exportRequest: { pluginInstance: "exporter", type: "file", query: 'kind "doc"' },
  };

  it("accepts a full and an empty output", () => {
    expect(TrainingParameterPluginOutput.parse(full)).toEqual(full);
    expect(TrainingParameterPluginOutput.parse({})).toEqual({});
  });

  it("refuses unknown keys, naming them, instead of dropping them (a ported { data: {…} })", () => {
    expectIssuePaths(
      TrainingParameterPluginOutput,
      { data: { trainingEpochs: 3 } },
      ["(root)"],
      "TrainingParameterPluginOutput",
    );
    const result = TrainingParameterPluginOutput.safeParse({ data: {}, machineLearningTask: "x" });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain("data");
    expect(JSON.stringify(result.error?.issues)).toContain("machineLearningTask");
  });

  it("lists every bad field at once", () => {
    expectIssuePaths(
      TrainingParameterPluginOutput,
      {
        machineType: 3,
        trainingEpochs: 0.5,
        testingHoldoutPercent: -1,
        testSplitSeed: "7",
        trainingParams: [],
        inferenceParams: "x",
        exportRequest: { bogus: 1 },
      },
      [
        "machineType",
        "trainingEpochs",
        "testingHoldoutPercent",
        "testSplitSeed",
        "trainingParams",
        "inferenceParams",
        "exportRequest",
      ],
      "TrainingParameterPluginOutput",
    );
  });

  it("fromInput keeps the user's request (and its exportPluginInput as exportRequest)", () => {
    const output = trainingParametersFromInput({
      pluginInstance: "tagger",
      trainingEpochs: 3,
      testSplitSeed: 1,
      trainingParams: { lr: 0.1 },
      exportPluginInput: { type: "file", handle: "train-set" },
    });
    expect(output).toEqual({
      trainingEpochs: 3,
      testSplitSeed: 1,
      trainingParams: { lr: 0.1 },
      exportRequest: { type: "file", handle: "train-set" },
    });
    expect(TrainingParameterPluginOutput.parse(output)).toEqual(output);
  });
});
