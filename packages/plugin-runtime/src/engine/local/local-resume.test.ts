import { type Id, TrainableError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { isTaskLock, lockTask } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import { instance, recordTask, useLocalEngineEnv } from "./__fixtures__/local-engine-env.js";
import type { LocalEngineState } from "./local-engine-state.js";
import { resumeTasks } from "./local-resume.js";

const { trains, makeState } = useLocalEngineEnv("local-resume", { plugin: true });

/** A task as a driver that stopped left it: status checks under way (or as `over` says). */
async function leftTask(
  state: LocalEngineState,
  over: Partial<TrainingTask> = {},
  taskId = "t1",
): Promise<TrainingTask> {
  const task = await recordTask(
    state,
    {
      state: "running",
      phase: "polling",
      trainPluginInput: { pluginInstance: instance.id },
      remoteStatus: { taskId, state: "running", remoteStatusInput: { job: 3 } },
      ...over,
    },
    taskId,
  );
  await state.taskLog.flush();
  return task;
}

const lockFree = async (state: LocalEngineState, taskId = "t1") => {
  const again = await lockTask(state.taskLog.taskDir(taskId));
  if (!isTaskLock(again)) return false;
  await again.release();
  return true;
};

const onDisk = async (state: LocalEngineState, taskId = "t1") =>
  (await state.taskLog.loadTasks()).tasks.find((t) => t.taskId === taskId);

describe("resumeTasks", () => {
  it("resumes status checks where they stopped, the first as a retry of the recorded one", async () => {
    const state = await makeState();
    await leftTask(state);
    const result = await resumeTasks(state);
    expect(result).toEqual({ resumed: ["t1"], interrupted: [], skipped: [] });
    const final = await state.active.get("t1")?.done;
    expect(final?.state).toBe("succeeded");
    expect(trains).toHaveLength(1);
    expect(trains[0]).toMatchObject({
      isStatusCheck: true,
      retry: true,
      status: { remoteStatusInput: { job: 3 } },
    });
    expect((await onDisk(state))?.state).toBe("succeeded");
    expect(await lockFree(state)).toBe(true);
  });

  it("repeats a train call that was in flight as a retry", async () => {
    const state = await makeState();
    await leftTask(state, { phase: "training", remoteStatus: undefined });
    expect((await resumeTasks(state)).resumed).toEqual(["t1"]);
    await state.active.get("t1")?.done;
    expect(trains[0]).toMatchObject({ isStatusCheck: false, retry: true });
  });

  it("picks up tasks another process recorded after this engine loaded", async () => {
    const state = await makeState();
    const other = await makeState();
    await leftTask(other);
    expect(state.tasks.has("t1")).toBe(false);
    expect((await resumeTasks(state)).resumed).toEqual(["t1"]);
    expect((await state.active.get("t1")?.done)?.state).toBe("succeeded");
  });

  it("leaves finished tasks alone, and skips those of unregistered plugins or held by a driver", async () => {
    const state = await makeState();
    await leftTask(state, { state: "succeeded", phase: "finished" }, "done");
    await leftTask(state, { plugin: "gone" as Id }, "orphan");
    await leftTask(state, {}, "held");
    const holder = await lockTask(state.taskLog.taskDir("held"));
    try {
      const result = await resumeTasks(state);
      expect(result.resumed).toEqual([]);
      expect(result.interrupted).toEqual([]);
      expect(result.skipped).toEqual([
        { taskId: "orphan", reason: 'plugin "gone" is not registered' },
        { taskId: "held", reason: expect.stringMatching(/^driven by process \d+ on /) },
      ]);
      expect(trains).toEqual([]);
      expect((await onDisk(state, "held"))?.state).toBe("running");
    } finally {
      if (isTaskLock(holder)) await holder.release();
    }
  });

  it("fails a task whose instance no longer exists (NOT_FOUND), releasing its lock", async () => {
    const state = await makeState();
    await leftTask(state, { instanceId: "deleted" as Id });
    const result = await resumeTasks(state);
    expect(result).toEqual({ resumed: [], interrupted: ["t1"], skipped: [] });
    expect(await onDisk(state)).toMatchObject({
      state: "failed",
      error: { code: "NOT_FOUND", message: '[runtime] Plugin instance "deleted" no longer exists' },
    });
    expect(trains).toEqual([]);
    expect(await lockFree(state)).toBe(true);
  });

  it("fails an old record whose train call may have run, rather than repeating it", async () => {
    const state = await makeState();
    await leftTask(state, { phase: undefined, remoteStatus: undefined });
    expect((await resumeTasks(state)).interrupted).toEqual(["t1"]);
    const failed = await onDisk(state);
    expect(failed?.state).toBe("failed");
    expect(failed?.error?.code).toBe("INTERNAL");
    expect(failed?.error?.message).toMatch(/train again/);
    expect(trains).toEqual([]);
  });

  it("reads the task again under its lock: one finished meanwhile is left as it is", async () => {
    const state = await makeState();
    const task = await leftTask(state);
    const stale = structuredClone(task);
    // The last driver finishes it between this engine's first read and its lock.
    await leftTask(state, { state: "succeeded", phase: "finished" });
    const loadTasks = state.taskLog.loadTasks;
    let reads = 0;
    state.taskLog.loadTasks = async () =>
      reads++ === 0 ? { tasks: [stale], problems: [] } : loadTasks();
    const result = await resumeTasks(state);
    expect(result).toEqual({ resumed: [], interrupted: [], skipped: [] });
    expect(state.tasks.get("t1")?.state).toBe("succeeded");
    expect(trains).toEqual([]);
    expect(await lockFree(state)).toBe(true);
  });

  it("refuses once the engine is closed", async () => {
    const state = await makeState();
    state.closed = true;
    const error = await resumeTasks(state).catch((e: unknown) => e);
    expect(TrainableError.isInstance(error) && error.code).toBe("INTERNAL");
  });
});
