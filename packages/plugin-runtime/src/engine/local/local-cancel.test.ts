import { ConflictError, NotFoundError, ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { TrainResponse } from "../../training/create-training-coordinator.js";
import { isTaskLock, lockTask } from "../task-lock.js";
import {
  instance,
  recordTask,
  succeeded,
  useLocalEngineEnv,
} from "./__fixtures__/local-engine-env.js";
import { launchTask } from "./launch-task.js";
import { cancelTask, requestCancel } from "./local-cancel.js";
import type { LocalEngineState } from "./local-engine-state.js";

const { trains, cancels, makeState, fakeClient } = useLocalEngineEnv("local-cancel");

/** Takes the task's driver lock, as another driver would. */
async function takeLock(state: LocalEngineState) {
  const lock = await lockTask(state.taskLog.taskDir("t1"));
  if (!isTaskLock(lock)) throw new Error("lock held");
  return lock;
}

const lockFree = async (state: LocalEngineState) => {
  const again = await lockTask(state.taskLog.taskDir("t1"));
  if (!isTaskLock(again)) return false;
  await again.release();
  return true;
};

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error,
  );

describe("cancelTask", () => {
  it("refuses an unknown task (NotFoundError)", async () => {
    const state = await makeState();
    const error = await refusal(cancelTask(state, "nope"));
    expect(NotFoundError.isInstance(error)).toBe(true);
  });

  it("aborts a training this engine drives and answers how it ended", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    const client = fakeClient(() => new Promise<TrainResponse>(() => {}));
    const done = launchTask(state, { task, client, instance, lock: await takeLock(state) });
    while (trains.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const final = await cancelTask(state, "t1");
    expect(final).toMatchObject({ state: "cancelled", error: { code: "CANCELLED" } });
    expect(await done).toEqual(final);
    expect(cancels).toHaveLength(1);
  });

  it("answers a copy of a finished task, touching nothing", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "succeeded";
    const answer = await cancelTask(state, "t1");
    expect(answer).toEqual(task);
    expect(answer).not.toBe(task);
    expect(answer.state).toBe("succeeded");
    expect(cancels).toEqual([]);
  });

  it("cancels a task no one drives here: stops the plugin's job, records it, releases the lock", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "running";
    task.phase = "polling";
    task.remoteStatus = { taskId: "t1", state: "running", remoteStatusInput: { job: 5 } };
    state.plugins.set(
      "plug",
      fakeClient(async () => succeeded),
    );
    const final = await cancelTask(state, "t1");
    expect(final).toMatchObject({
      state: "cancelled",
      phase: "finished",
      error: { code: "CANCELLED", message: "[runtime] Training cancelled" },
    });
    expect(cancels).toHaveLength(1);
    expect(cancels[0]?.status).toEqual(task.remoteStatus);
    expect(cancels[0]?.context?.pluginInstanceId).toBe("inst");
    const onDisk = (await state.taskLog.loadTasks()).tasks.find((t) => t.taskId === "t1");
    expect(onDisk?.state).toBe("cancelled");
    expect(await lockFree(state)).toBe(true);
  });

  it("still cancels when its plugin is not registered (nothing to stop)", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "running";
    const final = await cancelTask(state, "t1");
    expect(final.state).toBe("cancelled");
    expect(cancels).toEqual([]);
  });

  it("refuses a task another driver holds (ConflictError), leaving it as it is", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "running";
    state.plugins.set(
      "plug",
      fakeClient(async () => succeeded),
    );
    const other = await takeLock(state);
    try {
      const error = await refusal(cancelTask(state, "t1"));
      expect(ConflictError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/is driven by process \d+/);
      expect(task.state).toBe("running");
      expect(cancels).toEqual([]);
    } finally {
      await other.release();
    }
  });
});

describe("requestCancel", () => {
  it("cancels a training this engine drives at once", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    const client = fakeClient(() => new Promise<TrainResponse>(() => {}));
    launchTask(state, { task, client, instance, lock: await takeLock(state) });
    while (trains.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const answer = await requestCancel(state, "t1");
    expect(answer).toMatchObject({ requested: false, task: { state: "cancelled" } });
    expect(cancels).toHaveLength(1);
  });

  it("ends a task no one drives with its registered plugin's job stopped, and knows it", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "running";
    task.phase = "polling";
    task.remoteStatus = { taskId: "t1", state: "running", remoteStatusInput: { job: 5 } };
    await state.record(task);
    state.plugins.set(
      "plug",
      fakeClient(async () => succeeded),
    );
    const answer = await requestCancel(state, "t1");
    expect(answer).toMatchObject({ requested: false, task: { state: "cancelled" } });
    expect(cancels.map((c) => c.status)).toEqual([task.remoteStatus]);
    expect(state.tasks.get("t1")?.state).toBe("cancelled");
    expect(await lockFree(state)).toBe(true);
  });

  it("asks the driver of a task another process drives, and checks the id", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    task.state = "running";
    await state.record(task);
    const other = await takeLock(state);
    try {
      expect(await requestCancel(state, "t1")).toMatchObject({
        requested: true,
        task: { state: "running" },
      });
    } finally {
      await other.release();
    }
    const error = await refusal(requestCancel(state, "../t1"));
    expect(ValidationError.isInstance(error) && error.issues[0]?.path).toBe("taskId");
  });
});
