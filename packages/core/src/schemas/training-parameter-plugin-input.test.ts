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

  it("accepts a wrapped TrainPluginInput", () => {
    expect(TrainingParameterPluginInput.parse({ trainPluginInput })).toEqual({ trainPluginInput });
  });

  it("lists each bad field of the wrapped input", () => {
    expectIssuePaths(
      TrainingParameterPluginInput,
      { trainPluginInput: { ...trainPluginInput, pluginInstance: "../x", trainingEpochs: -3, testingHoldoutPercent: 1.5 } },
      ["trainPluginInput.pluginInstance", "trainPluginInput.trainingEpochs", "trainPluginInput.testingHoldoutPercent"],
      "TrainingParameterPluginInput",
    );
  });

  it("rejects a missing or non-object trainPluginInput", () => {
    expectIssuePaths(TrainingParameterPluginInput, { trainPluginInput: "x" }, ["trainPluginInput"], "TrainingParameterPluginInput");
  });

  // The original engine's TrainingParameterPluginInput is flat: `{ pluginInstance,
  // exportPluginInput, trainingEpochs, testingHoldoutPercent, testSplitSeed, trainingParams,
  // inferenceParams }` (steamship python-client, plugin/inputs/training_parameter_plugin_input.py).
  // A getTrainingParameters body from that engine must parse. FAILS until the schema accepts it.
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
