import { describe, expect, it } from "vitest";
import { expectIssuePaths, readFixture } from "./__fixtures__/helpers.js";
import { parseWith } from "./parse.js";
import { pluginRequestSchema } from "./plugin-request.js";
import { TrainingParameterPluginInput } from "./training-parameter-plugin-input.js";

describe("TrainingParameterPluginInput schema", () => {
  const trainPluginInput = {
    pluginInstance: "my-tagger",
    trainingEpochs: 3,
    testingHoldoutPercent: 0.2,
    testSplitSeed: 42,
    trainingParams: { learningRate: 0.001 },
    inferenceParams: { threshold: 0.5 },
  };

  it("accepts the flat TrainPluginInput fields plus exportPluginInput", () => {
    const input = { ...trainPluginInput, exportPluginInput: { query: "all" } };
    expect(TrainingParameterPluginInput.parse(input)).toEqual(input);
  });

  it("lists each bad field", () => {
    expectIssuePaths(
      TrainingParameterPluginInput,
      {
        ...trainPluginInput,
        pluginInstance: "../x",
        trainingEpochs: -3,
        testingHoldoutPercent: 1.5,
      },
      ["pluginInstance", "trainingEpochs", "testingHoldoutPercent"],
      "TrainingParameterPluginInput",
    );
  });

  it("rejects a non-object exportPluginInput", () => {
    expectIssuePaths(
      TrainingParameterPluginInput,
      { ...trainPluginInput, exportPluginInput: "x" },
      ["exportPluginInput"],
      "TrainingParameterPluginInput",
    );
  });

  // The original engine's TrainingParameterPluginInput is flat: `{ pluginInstance,
  // exportPluginInput, trainingEpochs, testingHoldoutPercent, testSplitSeed, trainingParams,
  // inferenceParams }` (steamship python-client, plugin/inputs/training_parameter_plugin_input.py).
  // A getTrainingParameters body from that engine must parse.
  it("parses a getTrainingParameters request in the original engine's flat shape", () => {
    const body = readFixture("training-parameters-request.json");
    const request = parseWith(
      pluginRequestSchema(TrainingParameterPluginInput),
      body,
      "getTrainingParameters request",
    );
    expect(JSON.stringify(request.data)).toContain('"pluginInstance":"my-tagger"');
    expect(JSON.stringify(request.data)).toContain('"trainingEpochs":3');
    expect(JSON.stringify(request.data)).toContain('"testingHoldoutPercent":0.2');
  });
});
