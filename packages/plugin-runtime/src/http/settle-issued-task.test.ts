import { RemoteError, TrainingError, validateId } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { createIssuedTaskTable } from "./issued-tasks.js";
import { settleIssuedTask } from "./settle-issued-task.js";

const taskId = validateId("t1", "id");
const instanceId = validateId("i1", "id");
const answer = (state: "running" | "succeeded", remoteStatusInput?: object): TrainResponse =>
  ({
    status: { taskId, state, ...(remoteStatusInput ? { remoteStatusInput } : {}) },
  }) as TrainResponse;

async function startedTable() {
  const tasks = createIssuedTaskTable();
  await tasks.start(taskId, instanceId);
  return tasks;
}

describe("settleIssuedTask", () => {
  it("a final answer ends the task", async () => {
    const tasks = await startedTable();
    await settleIssuedTask(tasks, {
      taskId,
      instanceId,
      response: answer("succeeded"),
      interrupted: false,
    });
    expect((await tasks.get("t1"))?.endedAt).toBeDefined();
  });

  it("a running answer records the status to check next", async () => {
    const tasks = await startedTable();
    await settleIssuedTask(tasks, {
      taskId,
      instanceId,
      response: answer("running", { job: 7 }),
      interrupted: false,
    });
    await tasks.check({ taskId, instanceId, remoteStatusInput: { job: 7 }, action: "check" });
    expect((await tasks.get("t1"))?.endedAt).toBeUndefined();
  });

  it("an interrupted call or a transient failure keeps the task; any other failure ends it", async () => {
    const tasks = await startedTable();
    await settleIssuedTask(tasks, { taskId, instanceId, error: new Error("x"), interrupted: true });
    const transient = new RemoteError("[x] down", { retryable: true });
    await settleIssuedTask(tasks, { taskId, instanceId, error: transient, interrupted: false });
    expect((await tasks.get("t1"))?.endedAt).toBeUndefined();
    const failed = new TrainingError("[x] failed");
    await settleIssuedTask(tasks, { taskId, instanceId, error: failed, interrupted: false });
    expect((await tasks.get("t1"))?.endedAt).toBeDefined();
  });

  it("without a task id, records nothing", async () => {
    const tasks = createIssuedTaskTable();
    await settleIssuedTask(tasks, {
      taskId: undefined,
      instanceId,
      response: answer("running", { job: 1 }),
      interrupted: false,
    });
    expect(await tasks.list()).toEqual([]);
  });
});
