import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { parseWith } from "./parse.js";
import { TrainPluginInput } from "./train-plugin-input.js";

const full = {
  pluginInstance: "my-tagger",
  trainingEpochs: 3,
  testingHoldoutPercent: 0.2,
  testSplitSeed: 42,
  trainingParams: { learningRate: 0.001, labels: ["a", "b"] },
  inferenceParams: { threshold: 0.5 },
  trainingDataUrl: "https://data.example/train.jsonl",
};

const parse = (input: unknown) => parseWith(TrainPluginInput, input, "TrainPluginInput");

describe("TrainPluginInput schema", () => {
  it("accepts a full input unchanged", () => {
    expect(parse(full)).toEqual(full);
  });

  it("accepts the minimal input", () => {
    expect(parse({ pluginInstance: "x" })).toEqual({ pluginInstance: "x" });
  });

  it("accepts the bounds", () => {
    expect(parse({ ...full, trainingEpochs: 0, testingHoldoutPercent: 0 })).toMatchObject({
      trainingEpochs: 0,
      testingHoldoutPercent: 0,
    });
    expect(
      parse({ ...full, trainingEpochs: 1_000_000, testingHoldoutPercent: 1, testSplitSeed: -7 }),
    ).toMatchObject({
      trainingEpochs: 1_000_000,
      testingHoldoutPercent: 1,
      testSplitSeed: -7,
    });
  });

  it("ignores the extra fields older engines send", () => {
    const parsed = parse({
      ...full,
      modelName: "DistilBERT",
      exportPluginInput: { query: "all" },
      trainTaskId: "t",
    });
    expect(parsed).toEqual(full);
  });

  it.each([
    ["missing pluginInstance", { trainingEpochs: 1 }, ["pluginInstance"]],
    ["traversal in pluginInstance", { pluginInstance: "../x" }, ["pluginInstance"]],
    ["slash in pluginInstance", { pluginInstance: "a/b" }, ["pluginInstance"]],
    ["negative trainingEpochs", { pluginInstance: "x", trainingEpochs: -1 }, ["trainingEpochs"]],
    ["fractional trainingEpochs", { pluginInstance: "x", trainingEpochs: 2.5 }, ["trainingEpochs"]],
    ["huge trainingEpochs", { pluginInstance: "x", trainingEpochs: 1_000_001 }, ["trainingEpochs"]],
    ["string trainingEpochs", { pluginInstance: "x", trainingEpochs: "3" }, ["trainingEpochs"]],
    [
      "holdout above 1",
      { pluginInstance: "x", testingHoldoutPercent: 1.5 },
      ["testingHoldoutPercent"],
    ],
    [
      "negative holdout",
      { pluginInstance: "x", testingHoldoutPercent: -0.1 },
      ["testingHoldoutPercent"],
    ],
    [
      "holdout as percent string",
      { pluginInstance: "x", testingHoldoutPercent: "20%" },
      ["testingHoldoutPercent"],
    ],
    ["fractional seed", { pluginInstance: "x", testSplitSeed: 0.5 }, ["testSplitSeed"]],
    ["unsafe integer seed", { pluginInstance: "x", testSplitSeed: 2 ** 60 }, ["testSplitSeed"]],
    ["array trainingParams", { pluginInstance: "x", trainingParams: [1, 2] }, ["trainingParams"]],
    [
      "string inferenceParams",
      { pluginInstance: "x", inferenceParams: "t=1" },
      ["inferenceParams"],
    ],
    ["empty trainingDataUrl", { pluginInstance: "x", trainingDataUrl: "" }, ["trainingDataUrl"]],
    [
      "huge trainingDataUrl",
      { pluginInstance: "x", trainingDataUrl: "u".repeat(4097) },
      ["trainingDataUrl"],
    ],
  ])("rejects %s", (_label, input, paths) => {
    expectIssuePaths(TrainPluginInput, input, paths, "TrainPluginInput");
  });

  it("lists both a negative trainingEpochs and testingHoldoutPercent 1.5", () => {
    expectIssuePaths(
      TrainPluginInput,
      { pluginInstance: "my-tagger", trainingEpochs: -3, testingHoldoutPercent: 1.5 },
      ["trainingEpochs", "testingHoldoutPercent"],
      "TrainPluginInput",
    );
  });

  it("lists every bad field at once", () => {
    expectIssuePaths(
      TrainPluginInput,
      {
        pluginInstance: "",
        trainingEpochs: -1,
        testingHoldoutPercent: 2,
        testSplitSeed: "42",
        trainingParams: null,
        inferenceParams: [],
        trainingDataUrl: 7,
      },
      [
        "pluginInstance",
        "trainingEpochs",
        "testingHoldoutPercent",
        "testSplitSeed",
        "trainingParams",
        "inferenceParams",
        "trainingDataUrl",
      ],
      "TrainPluginInput",
    );
  });

  it.each([undefined, null, "x", [], 3])("rejects the non-object %j", (input) => {
    expectIssuePaths(TrainPluginInput, input, ["(root)"], "TrainPluginInput");
  });
});
