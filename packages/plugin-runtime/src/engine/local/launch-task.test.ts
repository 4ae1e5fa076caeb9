import { getEventListeners } from "node:events";
import { CancelledError } from "@trainable/core";
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
import type { LocalEngineState } from "./local-engine-state.js";

const { errors, trains, cancels, makeState, fakeClient } = useLocalEngineEnv("launch-task");

/** A task recorded like startTraining does, with its driver lock taken. */
async function recordedTask(state: LocalEngineState) {
  const task = await recordTask(state);
  const lock = await lockTask(state.taskLog.taskDir(task.taskId));
  if (!isTaskLock(lock)) throw new Error("lock held");
  return { task, lock };
}

const lockFree = async (state: LocalEngineState) => {
  const again = await lockTask(state.taskLog.taskDir("t1"));
  if (!isTaskLock(again)) return false;
  await again.release();
  return true;
};

describe("launchTask", () => {
  it("drives the task while active, then records its end and releases the lock", async () => {
    const state = await makeState();
    const { task, lock } = await recordedTask(state);
    let release: () => void = () => {};
    const client = fakeClient(
      () =>
        new Promise<TrainResponse>((resolve) => {
          release = () => resolve(succeeded);
        }),
    );
    const done = launchTask(state, { task, client, instance, lock });
    expect(state.active.get("t1")?.done).toBe(done);
    // While it runs, the lock is held: no one else may drive it.
    expect(await lockFree(state)).toBe(false);
    while (trains.length === 0) await new Promise((resolve) => setImmediate(resolve));
    release();
    const final = await done;
    expect(final).toMatchObject({ state: "succeeded", checkpoint: { handle: "h1" } });
    expect(state.active.has("t1")).toBe(false);
    expect(await lockFree(state)).toBe(true);
    const onDisk = (await state.taskLog.loadTasks()).tasks.find((t) => t.taskId === "t1");
    expect(onDisk?.state).toBe("succeeded");
  });

  it("an aborted caller's signal cancels the training and stops the plugin's job", async () => {
    const state = await makeState();
    const { task, lock } = await recordedTask(state);
    const caller = new AbortController();
    const client = fakeClient(() => {
      caller.abort();
      return new Promise<TrainResponse>(() => {});
    });
    const final = await launchTask(state, { task, client, instance, lock, signal: caller.signal });
    expect(final.state).toBe("cancelled");
    expect(final.error?.code).toBe("CANCELLED");
    expect(cancels).toHaveLength(1);
    expect(await lockFree(state)).toBe(true);
  });

  it("a caller's signal that outlives the training keeps no listener of it", async () => {
    const state = await makeState();
    const { task, lock } = await recordedTask(state);
    const caller = new AbortController();
    const client = fakeClient(async () => succeeded);
    const final = await launchTask(state, { task, client, instance, lock, signal: caller.signal });
    expect(final.state).toBe("succeeded");
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    // Aborting it later is no cancel of the ended task.
    caller.abort();
    expect(cancels).toEqual([]);
  });

  it("a signal aborted before the launch cancels without training, with its reason", async () => {
    const state = await makeState();
    const { task, lock } = await recordedTask(state);
    const caller = new AbortController();
    caller.abort(new CancelledError("[test] user said stop"));
    const final = await launchTask(state, {
      task,
      client: fakeClient(async () => succeeded),
      instance,
      lock,
      signal: caller.signal,
    });
    expect(final.state).toBe("cancelled");
    expect(final.error?.message).toMatch(/user said stop/);
    expect(trains).toEqual([]);
  });

  it("a task that cannot be recorded resolves with its last state, logged, and the lock released", async () => {
    const state = await makeState();
    const { task, lock } = await recordedTask(state);
    const record = state.drive.record;
    state.drive.record = async (t, type, update) => {
      if (type === "finished") throw new Error("disk full");
      return record(t, type, update);
    };
    const final = await launchTask(state, {
      task,
      client: fakeClient(async () => succeeded),
      instance,
      lock,
    });
    expect(final.taskId).toBe("t1");
    // The success could not be recorded, nor then the failure: the driver gave up on it.
    expect(errors.at(-1)).toBe("[runtime] Training t1 could not be recorded");
    expect(state.active.has("t1")).toBe(false);
    expect(await lockFree(state)).toBe(true);
  });
});
