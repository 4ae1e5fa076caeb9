import { TrainingError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { normalizeTrainResponse } from "./normalize-train-response.js";

const at = new Date("2025-03-01T00:00:00.000Z");
const options = { taskId: "t1", plugin: "tagger", what: "train", now: () => at };

describe("normalizeTrainResponse", () => {
  it("reads no status as succeeded, stamping the task id and times", () => {
    expect(
      normalizeTrainResponse({ data: {} }, { ...options, startedAt: "2025-01-01T00:00:00.000Z" }),
    ).toEqual({
      data: {},
      status: {
        taskId: "t1",
        state: "succeeded",
        updatedAt: at.toISOString(),
        startedAt: "2025-01-01T00:00:00.000Z",
        finishedAt: at.toISOString(),
      },
    });
  });

  it("reads an error as failed, with its message and code", () => {
    const response = normalizeTrainResponse(
      { error: { code: "OOM", message: "too big" } },
      options,
    );
    expect(response.status).toMatchObject({
      state: "failed",
      statusMessage: "too big",
      statusCode: "OOM",
    });
  });

  it("keeps a running status open (no finishedAt)", () => {
    const response = normalizeTrainResponse({ status: { state: "running" } }, options);
    expect(response.status).toEqual({
      taskId: "t1",
      state: "running",
      updatedAt: at.toISOString(),
    });
  });

  it("refuses an invalid answer as the plugin's TrainingError", () => {
    const bad = () => normalizeTrainResponse({ status: { state: "sleeping" } }, options);
    expect(bad).toThrow(TrainingError);
    expect(bad).toThrow(/^\[runtime\] tagger\.train returned an invalid response/);
  });
});
