import { type Id, NotFoundError, TrainableError, ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { PluginClient } from "../../client/plugin-client.js";
import type { TrainResponse } from "../../training/create-training-coordinator.js";
import { generateTaskHandle } from "../../training/generate-task-handle.js";
import type { TaskEvent } from "../task-event.js";
import { isTaskLock, lockTask } from "../task-lock.js";
import { succeeded, useLocalEngineEnv } from "./__fixtures__/local-engine-env.js";
import type { LocalEngineState } from "./local-engine-state.js";
import { startTraining } from "./local-start-training.js";

const { trains, cancels, makeState, fakeClient } = useLocalEngineEnv("local-start", {
  plugin: true,
  now: () => new Date("2025-03-01T14:22:33.123Z"),
});

const lockFree = async (state: LocalEngineState, taskId: string) => {
  const again = await lockTask(state.taskLog.taskDir(taskId));
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

const start = (
  state: LocalEngineState,
  options: Parameters<typeof startTraining>[1]["options"] = {},
  input: unknown = { trainingEpochs: 2 },
) => startTraining(state, { instanceId: "inst" as Id, input: input as never, options });

describe("startTraining", () => {
  it("records the task as created, drives it, and answers its run", async () => {
    const state = await makeState();
    const events: TaskEvent[] = [];
    state.emitter.on("task", (event: TaskEvent) => events.push(event));
    const run = await start(state, { handle: "v1", setAsDefault: false, timeoutMs: 5_000 });
    expect(run.task).toMatchObject({
      taskId: run.taskId,
      instanceId: "inst",
      plugin: "plug",
      state: "waiting",
      input: { pluginInstance: "inst", trainingEpochs: 2 },
      save: { handle: "v1", setAsDefault: false },
      deadline: "2025-03-01T14:22:38.123Z",
    });
    expect(run.task.save.createOnly).toBeUndefined();
    expect(run.task).not.toBe(state.tasks.get(run.taskId));
    expect(events[0]).toMatchObject({ type: "created", taskId: run.taskId });
    const final = await run.done;
    expect(final.state).toBe("succeeded");
    expect(trains[0]?.save).toEqual({ handle: "v1", setAsDefault: false });
    const onDisk = (await state.taskLog.loadTasks()).tasks.find((t) => t.taskId === run.taskId);
    expect(onDisk?.state).toBe("succeeded");
    expect(await lockFree(state, run.taskId)).toBe(true);
  });

  it("generates a create-only handle from the time and the task id", async () => {
    const state = await makeState();
    const runs = [await start(state), await start(state), await start(state)];
    for (const run of runs) {
      expect(run.task.save).toEqual({
        handle: generateTaskHandle(run.taskId, new Date("2025-03-01T14:22:33.123Z")),
        setAsDefault: true,
        createOnly: true,
      });
      expect(run.task.save.handle).toMatch(/^v20250301-142233-123-[0-9a-f]{16}$/);
    }
    // Same millisecond, same instance: still one handle per task.
    expect(new Set(runs.map((run) => run.task.save.handle)).size).toBe(3);
    await Promise.all(runs.map((run) => run.done));
  });

  it("cancels the training when the caller's signal aborts", async () => {
    const state = await makeState();
    state.plugins.set(
      "plug",
      fakeClient(() => new Promise<TrainResponse>(() => {})),
    );
    const caller = new AbortController();
    const run = await start(state, { signal: caller.signal });
    while (trains.length === 0) await new Promise((resolve) => setImmediate(resolve));
    caller.abort();
    expect((await run.done).state).toBe("cancelled");
    expect(cancels).toHaveLength(1);
  });

  it("refuses an unknown instance or plugin (NotFoundError), recording nothing", async () => {
    const state = await makeState();
    let error = await refusal(
      startTraining(state, { instanceId: "nope" as Id, input: {}, options: {} }),
    );
    expect(NotFoundError.isInstance(error)).toBe(true);
    state.plugins.delete("plug");
    error = await refusal(start(state));
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect(state.tasks.size).toBe(0);
  });

  it("refuses an in-process plugin that is not trainable (NOT_SUPPORTED)", async () => {
    const state = await makeState();
    state.plugins.set("plug", {
      ...fakeClient(async () => succeeded),
      kind: "in-process",
      trainable: false,
    } as unknown as PluginClient);
    const error = await refusal(start(state));
    expect(TrainableError.isInstance(error) && error.code).toBe("NOT_SUPPORTED");
    expect(state.tasks.size).toBe(0);
  });

  it("refuses bad input, a bad timeout or handle before recording anything", async () => {
    const state = await makeState();
    const field = async (promise: Promise<unknown>) => {
      const error = await refusal(promise);
      return ValidationError.isInstance(error) ? error.issues[0]?.path : error;
    };
    expect(await field(start(state, {}, { pluginInstance: "other" }))).toBe("pluginInstance");
    expect(await field(start(state, {}, { trainingEpochs: "two" }))).toBe("trainingEpochs");
    expect(await field(start(state, { timeoutMs: 0 }))).toBe("timeoutMs");
    expect(await field(start(state, { handle: "../x" }))).toBe("handle");
    expect(state.tasks.size).toBe(0);
    expect(trains).toEqual([]);
  });
});
