import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { Task } from "./task.js";
import { TaskState } from "./task-state.js";

const full = {
  taskId: "5F1E2D3C-4B5A-4968-8776-655443322110",
  state: "running",
  statusMessage: "Epoch 2 of 3",
  statusSuggestion: "Wait",
  statusCode: "RUNNING",
  remoteStatusInput: { jobId: "automl-job-1", region: "us-central1" },
  retryAfterMs: 1000,
  output: { anything: [1, 2, 3] },
  createdAt: "2024-05-01T12:00:00Z",
  updatedAt: "2024-05-01T12:00:01.5Z",
  startedAt: "2024-05-01T14:00:00+02:00",
  finishedAt: "2024-05-01T12:03:27.123456Z",
};

describe("Task schema", () => {
  it.each(TaskState.options)("accepts a task in state %s", (state) => {
    expect(Task.parse({ state })).toEqual({ state });
    expect(Task.parse({ ...full, state })).toEqual({ ...full, state });
  });

  it("requires a state", () => {
    expectIssuePaths(Task, {}, ["state"], "Task");
    expectIssuePaths(Task, { ...full, state: undefined }, ["state"], "Task");
  });

  it.each(["done", "SUCCEEDED", "", 3])("rejects the state %j", (state) => {
    expectIssuePaths(Task, { state }, ["state"], "Task");
  });

  it("keeps the fields the engine echoes back and drops unknown ones", () => {
    const parsed = Task.parse({ ...full, taskType: "train", assignedWorker: "w-1", retries: 0 });
    expect(parsed).toEqual(full);
  });

  describe("timestamps", () => {
    const fields = ["createdAt", "updatedAt", "startedAt", "finishedAt"] as const;
    it.each([
      "2024-05-01T12:00:00Z",
      "2024-05-01T12:00:00.000Z",
      "2024-05-01T12:00:00.123456789Z",
      "2024-05-01T12:00:00+02:00",
      "2024-05-01T12:00:00-07:30",
      "2024-02-29T23:59:59Z",
    ])("accepts %s in every timestamp field", (ts) => {
      for (const field of fields)
        expect(Task.parse({ state: "waiting", [field]: ts })[field]).toBe(ts);
    });

    it.each([
      ["date only", "2024-05-01"],
      ["no offset", "2024-05-01T12:00:00"],
      ["space separator", "2024-05-01 12:00:00Z"],
      ["bad month", "2024-13-01T12:00:00Z"],
      ["bad hour", "2024-05-01T25:00:00Z"],
      ["not a date", "yesterday"],
      ["empty", ""],
      ["epoch millis", 1714564800000],
      ["Date object", new Date("2024-05-01T12:00:00Z")],
      ["null", null],
    ])("rejects %s in every timestamp field, naming the field", (_label, ts) => {
      for (const field of fields)
        expectIssuePaths(Task, { state: "running", [field]: ts }, [field], "Task");
    });

    it("lists every bad timestamp at once", () => {
      expectIssuePaths(
        Task,
        {
          state: "succeeded",
          createdAt: "x",
          updatedAt: "2024-05-01",
          startedAt: 0,
          finishedAt: "later",
        },
        ["createdAt", "updatedAt", "startedAt", "finishedAt"],
        "Task",
      );
    });
  });

  it.each([
    ["negative", -1],
    ["fractional", 1.5],
    ["over a day", 86_400_001],
    ["string", "1000"],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("rejects a %s retryAfterMs", (_label, retryAfterMs) => {
    expectIssuePaths(Task, { state: "running", retryAfterMs }, ["retryAfterMs"], "Task");
  });

  it("accepts retryAfterMs bounds", () => {
    expect(Task.parse({ state: "running", retryAfterMs: 0 }).retryAfterMs).toBe(0);
    expect(Task.parse({ state: "running", retryAfterMs: 86_400_000 }).retryAfterMs).toBe(
      86_400_000,
    );
  });

  it("lists every bad field of a task", () => {
    expectIssuePaths(
      Task,
      {
        taskId: "t".repeat(257),
        state: "finished",
        statusMessage: "m".repeat(10_001),
        statusSuggestion: 5,
        statusCode: "c".repeat(129),
        remoteStatusInput: ["jobId", "x"],
        retryAfterMs: -5,
        createdAt: "now",
      },
      [
        "taskId",
        "state",
        "statusMessage",
        "statusSuggestion",
        "statusCode",
        "remoteStatusInput",
        "retryAfterMs",
        "createdAt",
      ],
      "Task",
    );
  });

  it.each([null, "job-1", 42, []])(
    "rejects a non-object remoteStatusInput %j",
    (remoteStatusInput) => {
      expectIssuePaths(
        Task,
        { state: "running", remoteStatusInput },
        ["remoteStatusInput"],
        "Task",
      );
    },
  );
});
