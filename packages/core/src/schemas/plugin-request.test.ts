import { describe, expect, it } from "vitest";
import { z } from "zod";
import { expectIssuePaths, readFixture } from "./__fixtures__/helpers.js";
import { parseWith } from "./parse.js";
import { pluginRequestSchema } from "./plugin-request.js";
import { TrainPluginInput } from "./train-plugin-input.js";

const TrainRequest = pluginRequestSchema(TrainPluginInput);
const parse = (body: unknown) => parseWith(TrainRequest, body, "train request");

describe("pluginRequestSchema(TrainPluginInput)", () => {
  it("parses a train request exactly as the engine sends it", () => {
    const body = readFixture("train-request.json");
    const request = parse(body);
    expect(request).toEqual(body);
    expect(request.isStatusCheck).toBe(false);
    expect(request.status).toBeUndefined();
    expect(request.data).toEqual({
      pluginInstance: "my-tagger",
      trainingEpochs: 3,
      testingHoldoutPercent: 0.2,
      testSplitSeed: 42,
      trainingParams: {
        learningRate: 0.001,
        batchSize: 32,
        labels: ["spam", "ham"],
        optimizer: { name: "adam", beta1: 0.9 },
      },
      inferenceParams: { threshold: 0.5, tagKind: "classification" },
    });
    expect(request.context?.pluginInstanceHandle).toBe("my-tagger");
  });

  it("parses a status-check request carrying the last task", () => {
    const body = readFixture("status-check-request.json");
    const request = parse(body);
    expect(request).toEqual(body);
    expect(request.isStatusCheck).toBe(true);
    expect(request.status?.state).toBe("running");
    expect(request.status?.remoteStatusInput).toEqual({ jobId: "automl-job-8d7c6b5a" });
    expect(request.status?.retryAfterMs).toBe(1000);
    expect(request.data?.pluginInstance).toBe("my-tagger");
  });

  it("accepts an empty request (every part is optional)", () => {
    expect(parse({})).toEqual({});
  });

  it("reports bad data fields under data.*", () => {
    const body = readFixture("train-request.json") as { data: Record<string, unknown> };
    expectIssuePaths(
      TrainRequest,
      { ...body, data: { ...body.data, trainingEpochs: -3, testingHoldoutPercent: 1.5 } },
      ["data.trainingEpochs", "data.testingHoldoutPercent"],
      "train request",
    );
  });

  it("lists every bad field across data, context, status and isStatusCheck", () => {
    const body = readFixture("status-check-request.json") as Record<
      string,
      Record<string, unknown>
    >;
    expectIssuePaths(
      TrainRequest,
      {
        data: { ...body.data, pluginInstance: "../../etc", trainingEpochs: -1 },
        context: { ...body.context, workspace: "a/b" },
        status: { ...body.status, state: "paused", retryAfterMs: -1, createdAt: "2024-01-01" },
        isStatusCheck: "true",
      },
      [
        "data.pluginInstance",
        "data.trainingEpochs",
        "context.workspace",
        "status.state",
        "status.retryAfterMs",
        "status.createdAt",
        "isStatusCheck",
      ],
      "train request",
    );
  });

  it.each([
    ["data", { data: "my-tagger" }],
    ["context", { context: [] }],
    ["status", { status: "running" }],
  ])("rejects a non-object %s", (field, body) => {
    expectIssuePaths(TrainRequest, body, [field], "train request");
  });

  it("rejects a status without a state", () => {
    expectIssuePaths(
      TrainRequest,
      { isStatusCheck: true, status: { retryAfterMs: 5 } },
      ["status.state"],
      "train request",
    );
  });

  it("works with any data schema", () => {
    const Tag = pluginRequestSchema(z.object({ text: z.string() }));
    expect(Tag.parse({ data: { text: "hi" } })).toEqual({ data: { text: "hi" } });
    expectIssuePaths(Tag, { data: { text: 1 } }, ["data.text"], "tag request");
  });
});
