import { CancelledError, type Id, type PostUpdate, RemoteError } from "@trainable/core";
import { beforeEach, describe, expect, it } from "vitest";
import type { ClientTrainOptions, PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import type { DriveContext } from "./drive-context.js";
import { createDriveRun, givesUp } from "./drive-run.js";
import type { EngineInstance } from "./engine-instance.js";
import { newTrainingTask } from "./new-training-task.js";
import { DEFAULT_POLL_POLICY } from "./poll-policy.js";
import type { TrainingTask } from "./training-task.js";

const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

let time: number;
let recorded: Array<{ type?: string; update?: PostUpdate }>;
let ctx: DriveContext;
let calls: Array<{ request: TrainRequest; options?: ClientTrainOptions }>;

beforeEach(() => {
  time = Date.parse("2025-03-01T00:00:00.000Z");
  recorded = [];
  calls = [];
  ctx = {
    clock: { now: () => new Date(time), sleep: async () => {} },
    policy: { ...DEFAULT_POLL_POLICY, maxConsecutiveErrors: 3, unreachableForMs: 60_000 },
    logger: { warn: () => {}, error: () => {} },
    hooks: {},
    maxUpdates: 3,
    modelDir: (taskId) => `/models/${taskId}`,
    record: async (_task, type, update) => void recorded.push({ type, update }),
    contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: "ws" }),
    ensureRegistered: async () => {},
  };
});

function client(train: PluginClient["train"] = async () => succeeded): PluginClient {
  return {
    kind: "http",
    name: "fake",
    registerInstance: async (i) => i,
    run: async () => undefined,
    getTrainingParameters: async () => ({}),
    train: (request, options) => {
      calls.push({ request, options });
      return train(request, options);
    },
    cancelTraining: async () => ({ status: { state: "cancelled" } }),
  };
}

const succeeded: TrainResponse = { status: { taskId: "t1", state: "succeeded" } };

const newTask = (): TrainingTask =>
  newTrainingTask({
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: instance.id, trainingEpochs: 1 },
    now: new Date(time),
    timeoutMs: 60_000,
    handle: "h1" as Id,
    generatedHandle: false,
    setAsDefault: false,
  });

describe("createDriveRun", () => {
  it("knows the task's model folder and starts not polling", () => {
    const task = newTask();
    const run = createDriveRun(
      ctx,
      { task, client: client(), instance },
      new AbortController().signal,
    );
    expect(run.stateDir).toBe("/models/t1");
    expect(run.polling).toBe(false);
    expect(run.task).toBe(task);
  });

  it("onUpdate keeps the latest maxUpdates updates, the progress and message, and records each", () => {
    const task = newTask();
    const run = createDriveRun(
      ctx,
      { task, client: client(), instance },
      new AbortController().signal,
    );
    for (let step = 1; step <= 5; step++) {
      time += 1000;
      run.onUpdate({ statusMessage: `step ${step}`, output: { trainingProgress: { step } } });
    }
    expect(task.updates.map((u) => (u.update as { statusMessage?: string }).statusMessage)).toEqual(
      ["step 3", "step 4", "step 5"],
    );
    expect(task.updates[2]?.at).toBe("2025-03-01T00:00:05.000Z");
    expect(task.progress).toEqual({ step: 5 });
    expect(task.statusMessage).toBe("step 5");
    expect(recorded.map((r) => r.type)).toEqual(["update", "update", "update", "update", "update"]);
    expect(recorded[4]?.update?.statusMessage).toBe("step 5");
  });

  it("onUpdate ignores updates once the task is final, and survives a failing record", async () => {
    const task = newTask();
    ctx.record = async () => {
      throw new Error("disk full");
    };
    const run = createDriveRun(
      ctx,
      { task, client: client(), instance },
      new AbortController().signal,
    );
    run.onUpdate({ statusMessage: "kept" });
    task.state = "succeeded";
    run.onUpdate({ statusMessage: "late" });
    expect(task.updates.map((u) => (u.update as { statusMessage?: string }).statusMessage)).toEqual(
      ["kept"],
    );
    expect(task.statusMessage).toBe("kept");
    // The rejected record is swallowed (an unhandled rejection would fail the run).
    await new Promise((resolve) => setImmediate(resolve));
  });

  it("callTrain sends the task's input, instance context and save, with the run's signal and folder", async () => {
    const task = newTask();
    const signal = new AbortController().signal;
    const run = createDriveRun(ctx, { task, client: client(), instance }, signal);
    expect(
      await run.callTrain({ isStatusCheck: false, status: { taskId: "t1", state: "waiting" } }),
    ).toBe(succeeded);
    expect(calls[0]?.request).toEqual({
      data: { pluginInstance: "inst", trainingEpochs: 1 },
      context: { pluginInstanceId: "inst", workspace: "ws" },
      save: { handle: "h1", setAsDefault: false },
      isStatusCheck: false,
      status: { taskId: "t1", state: "waiting" },
    });
    expect(calls[0]?.options?.signal).toBe(signal);
    expect(calls[0]?.options?.stateDir).toBe("/models/t1");
    // Updates the plugin posts during the call land on the task.
    calls[0]?.options?.onUpdate?.({ statusMessage: "from plugin" });
    expect(task.statusMessage).toBe("from plugin");
  });

  it("callTrain prefers the merged trainPluginInput over the raw input", async () => {
    const task = newTask();
    task.trainPluginInput = { pluginInstance: "inst", trainingEpochs: 9 };
    const run = createDriveRun(
      ctx,
      { task, client: client(), instance },
      new AbortController().signal,
    );
    await run.callTrain({ retry: true });
    expect(calls[0]?.request.data).toEqual({ pluginInstance: "inst", trainingEpochs: 9 });
    expect(calls[0]?.request.retry).toBe(true);
  });

  it("callTrain rejects when the run is stopped, even if the plugin never answers", async () => {
    const controller = new AbortController();
    const hanging = client(() => new Promise<TrainResponse>(() => {}));
    const run = createDriveRun(
      ctx,
      { task: newTask(), client: hanging, instance },
      controller.signal,
    );
    const pending = run.callTrain({});
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(CancelledError.isInstance(error)).toBe(true);
  });
});

describe("givesUp", () => {
  const transient = new RemoteError("down", { retryable: true });

  it("repeats transient failures within the policy's tolerance", () => {
    const run = createDriveRun(
      ctx,
      { task: newTask(), client: client(), instance },
      new AbortController().signal,
    );
    const since = time;
    expect(givesUp(run, { error: transient, failures: 1, since })).toBe(false);
    // Enough failures in a row, but not yet unreachable for long enough.
    expect(givesUp(run, { error: transient, failures: 3, since })).toBe(false);
    time += 60_000;
    expect(givesUp(run, { error: transient, failures: 2, since })).toBe(false);
    expect(givesUp(run, { error: transient, failures: 3, since })).toBe(true);
  });

  it("gives up at once on a failure that is not transient, or once the run is stopped", () => {
    const controller = new AbortController();
    const run = createDriveRun(
      ctx,
      { task: newTask(), client: client(), instance },
      controller.signal,
    );
    expect(givesUp(run, { error: new Error("bug"), failures: 1, since: time })).toBe(true);
    expect(
      givesUp(run, {
        error: new RemoteError("bad request", { retryable: false }),
        failures: 1,
        since: time,
      }),
    ).toBe(true);
    controller.abort();
    expect(givesUp(run, { error: transient, failures: 1, since: time })).toBe(true);
  });
});
