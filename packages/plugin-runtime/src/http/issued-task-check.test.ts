import { NotFoundError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { checkIssuedTask, notIssued } from "./issued-task-check.js";
import { remoteStatusDigest } from "./issued-task-digest.js";
import type { IssuedTask } from "./issued-tasks.js";

const task: IssuedTask = {
  taskId: "t1",
  instanceId: "i1",
  issued: [remoteStatusDigest({ job: 1 })],
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
};
const query = {
  taskId: "t1",
  instanceId: "i1",
  remoteStatusInput: undefined,
  action: "check" as const,
};

function thrown(fn: () => void): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("did not throw");
}

describe("checkIssuedTask", () => {
  it("accepts the task's own instance and an answered status", () => {
    expect(() => checkIssuedTask(task, query)).not.toThrow();
    expect(() => checkIssuedTask(task, { ...query, remoteStatusInput: { job: 1 } })).not.toThrow();
  });

  it("refuses a task it has no record of", () => {
    const error = thrown(() => checkIssuedTask(undefined, { ...query, action: "cancel" }));
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/^\[runtime\] No training task "t1" to cancel: /);
  });

  it("refuses another instance", () => {
    const error = thrown(() => checkIssuedTask(task, { ...query, instanceId: "i2" }));
    expect(error.message).toContain('of plugin instance "i2" to check on');
  });

  it("refuses a status it never answered", () => {
    const error = thrown(() => checkIssuedTask(task, { ...query, remoteStatusInput: { job: 2 } }));
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect(error.message).toContain("never answered that status.remoteStatusInput");
  });

  it("refuses to cancel an ended task, but checks on it", () => {
    const ended = { ...task, endedAt: "2026-01-02T00:00:00.000Z" };
    expect(() => checkIssuedTask(ended, query)).not.toThrow();
    const error = thrown(() => checkIssuedTask(ended, { ...query, action: "cancel" }));
    expect(error.message).toContain("is over (it ended at 2026-01-02T00:00:00.000Z)");
  });
});

describe("notIssued", () => {
  it("names the action", () => {
    expect(thrown(() => notIssued("t9", "retry")).message).toContain("will not retry it");
  });
});
