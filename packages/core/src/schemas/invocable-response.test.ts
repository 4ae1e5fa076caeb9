import { describe, expect, it } from "vitest";
import { expectIssuePaths, readFixture } from "./__fixtures__/helpers.js";
import { invocableResponseSchema, ResponseError } from "./invocable-response.js";
import { parseWith } from "./parse.js";
import { TaskState } from "./task-state.js";
import { TrainPluginOutput } from "./train-plugin-output.js";

const TrainResponse = invocableResponseSchema(TrainPluginOutput);
const parse = (body: unknown) => parseWith(TrainResponse, body, "train response");

describe("invocableResponseSchema(TrainPluginOutput)", () => {
  it("parses a failed task with an error (code, message, suggestion; no stack)", () => {
    const body = readFixture("train-response-failed.json");
    const response = parse(body);
    expect(response).toEqual(body);
    expect(response.data).toBeUndefined();
    expect(response.status?.state).toBe("failed");
    expect(response.error).toEqual({
      code: "TRAINING",
      message: "[plugin] Training diverged: loss became NaN at epoch 2",
      suggestion: "Lower trainingParams.learningRate and train again",
    });
  });

  it("drops a stack that leaks into an error", () => {
    const response = parse({
      status: { state: "failed" },
      error: {
        code: "INTERNAL",
        message: "boom",
        stack: "Error: boom\n    at x (/srv/app.js:1:1)",
      },
    });
    expect(response.error).toEqual({ code: "INTERNAL", message: "boom" });
    expect(JSON.stringify(response)).not.toContain("stack");
  });

  it("parses a finished training", () => {
    const body = readFixture("train-response-succeeded.json");
    const response = parse(body);
    expect(response).toEqual(body);
    expect(response.data?.archivePath).toMatch(/blobs\/sha256\/[a-f0-9]{64}$/);
  });

  it.each(TaskState.options)("accepts a %s task", (state) => {
    expect(parse({ status: { state } }).status?.state).toBe(state);
  });

  it("parses a running task carrying remoteStatusInput", () => {
    const response = parse({
      status: { state: "running", remoteStatusInput: { jobId: "j-1" }, retryAfterMs: 500 },
    });
    expect(response.status?.remoteStatusInput).toEqual({ jobId: "j-1" });
  });

  it("lists every bad field across data, status and error", () => {
    expectIssuePaths(
      TrainResponse,
      {
        data: { archivePath: 1, trainingResults: [] },
        status: { state: "exploded", finishedAt: "soon" },
        error: { code: 500, suggestion: false },
      },
      [
        "data.archivePath",
        "data.trainingResults",
        "status.state",
        "status.finishedAt",
        "error.code",
        "error.message",
        "error.suggestion",
      ],
      "train response",
    );
  });

  it("rejects a non-object response", () => {
    expectIssuePaths(TrainResponse, [], ["(root)"], "train response");
  });
});

describe("ResponseError", () => {
  it("requires code and message", () => {
    expect(ResponseError.parse({ code: "X", message: "y" })).toEqual({ code: "X", message: "y" });
    expectIssuePaths(ResponseError, {}, ["code", "message"], "ResponseError");
  });
});
