import { describe, expect, it } from "vitest";
import { expectIssuePaths } from "./__fixtures__/helpers.js";
import { FINAL_TASK_STATES, isFinalTaskState, TaskState } from "./task-state.js";

const STATES = ["waiting", "running", "succeeded", "failed", "cancelled"] as const;

describe("TaskState", () => {
  it("has exactly the five states", () => {
    expect([...TaskState.options].sort()).toEqual([...STATES].sort());
  });

  it.each(STATES)("accepts %s", (state) => {
    expect(TaskState.parse(state)).toBe(state);
  });

  it.each(["done", "SUCCEEDED", "Running", "", "canceled", null, 1])("rejects %j", (state) => {
    expectIssuePaths(TaskState, state, ["(root)"], "state");
  });

  it.each([
    ["waiting", false],
    ["running", false],
    ["succeeded", true],
    ["failed", true],
    ["cancelled", true],
  ] as const)("isFinalTaskState(%s) is %s", (state, final) => {
    expect(isFinalTaskState(state)).toBe(final);
    expect(FINAL_TASK_STATES.has(state)).toBe(final);
  });

  it("FINAL_TASK_STATES holds only final states", () => {
    expect([...FINAL_TASK_STATES].sort()).toEqual(["cancelled", "failed", "succeeded"]);
  });
});
