import { describe, expect, it } from "vitest";
import type { HostedTask } from "../hosted/create-task-host.js";
import { cancelledStatus } from "./cancel-route.js";

const task = {
  taskId: "t1",
  instanceId: "i1",
  state: "cancelled",
  startedAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:01:00.000Z",
  lastEventId: 3,
} as HostedTask;

describe("cancelledStatus", () => {
  it("is the state the hosted call ended in, with its message when it has one", () => {
    expect(cancelledStatus(task)).toEqual({
      taskId: "t1",
      state: "cancelled",
      updatedAt: "2026-01-01T00:01:00.000Z",
    });
    expect(cancelledStatus({ ...task, state: "succeeded", statusMessage: "done" })).toEqual({
      taskId: "t1",
      state: "succeeded",
      statusMessage: "done",
      updatedAt: "2026-01-01T00:01:00.000Z",
    });
  });
});
