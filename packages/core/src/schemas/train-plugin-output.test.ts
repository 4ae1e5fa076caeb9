import { describe, expect, it } from "vitest";
import { expectIssuePaths, readFixture } from "./__fixtures__/helpers.js";
import { TrainPluginOutput } from "./train-plugin-output.js";

describe("TrainPluginOutput schema", () => {
  it("accepts the data of a finished training response", () => {
    const body = readFixture("train-response-succeeded.json") as { data: unknown };
    expect(TrainPluginOutput.parse(body.data)).toEqual(body.data);
  });

  it("accepts an empty output and partial progress updates", () => {
    expect(TrainPluginOutput.parse({})).toEqual({});
    expect(TrainPluginOutput.parse({ trainingProgress: { epoch: 1, of: 3 } })).toEqual({
      trainingProgress: { epoch: 1, of: 3 },
    });
  });

  it.each([
    ["numeric archivePath", { archivePath: 42 }, ["archivePath"]],
    ["numeric pluginInstanceId", { pluginInstanceId: 1 }, ["pluginInstanceId"]],
    ["array trainingResults", { trainingResults: [0.9] }, ["trainingResults"]],
    ["string trainingProgress", { trainingProgress: "50%" }, ["trainingProgress"]],
    ["null inferenceParams", { inferenceParams: null }, ["inferenceParams"]],
  ])("rejects %s", (_label, input, paths) => {
    expectIssuePaths(TrainPluginOutput, input, paths, "TrainPluginOutput");
  });

  it("lists every bad field at once", () => {
    expectIssuePaths(
      TrainPluginOutput,
      {
        pluginInstanceId: false,
        archivePath: {},
        inferenceParams: 1,
        trainingProgress: [],
        trainingResults: "x",
      },
      ["pluginInstanceId", "archivePath", "inferenceParams", "trainingProgress", "trainingResults"],
      "TrainPluginOutput",
    );
  });
});
