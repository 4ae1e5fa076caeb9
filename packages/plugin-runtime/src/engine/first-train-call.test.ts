import { type Id, RemoteError, ValidationError } from "@trainable/core";
import { beforeEach, describe, expect, it } from "vitest";
import type { PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { scriptedClient as scripted } from "./__fixtures__/scripted-client.js";
import type { DriveContext, DrivePoint } from "./drive-context.js";
import { createDriveRun } from "./drive-run.js";
import type { EngineInstance } from "./engine-instance.js";
import { firstTrainCall } from "./first-train-call.js";
import { newTrainingTask } from "./new-training-task.js";
import { DEFAULT_POLL_POLICY, nextPollDelay } from "./poll-policy.js";
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
/** Each record: its type, and the task's phase/state/attempts at the time. */
let recorded: string[];
let points: Array<[DrivePoint, TrainResponse | undefined]>;
let sleeps: number[];
let warnings: string[];
let ctx: DriveContext;
let calls: TrainRequest[];
let parameterCalls: unknown[];

beforeEach(() => {
  time = Date.parse("2025-03-01T00:00:00.000Z");
  recorded = [];
  points = [];
  sleeps = [];
  warnings = [];
  calls = [];
  parameterCalls = [];
  ctx = {
    clock: {
      now: () => new Date(time),
      sleep: async (ms) => {
        sleeps.push(ms);
        time += ms;
      },
    },
    policy: { ...DEFAULT_POLL_POLICY, maxConsecutiveErrors: 3, unreachableForMs: 0 },
    logger: { warn: (message) => void warnings.push(message), error: () => {} },
    hooks: { at: (point, _task, response) => void points.push([point, response]) },
    maxUpdates: 10,
    modelDir: (taskId) => `/models/${taskId}`,
    record: async (task, type) =>
      void recorded.push(`${type ?? "-"}:${task.phase}:${task.state}:${task.attempts ?? 0}`),
    contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: "ws" }),
    ensureRegistered: async () => {},
  };
});

/** A client whose train calls answer (or throw) the scripted results in turn. */
function scriptedClient(
  script: Array<TrainResponse | Error>,
  parameters: object = { trainingEpochs: 4, trainingParams: { lr: 0.1 } },
): PluginClient {
  return scripted(script, {
    calls,
    parameters: async (request) => {
      parameterCalls.push(request);
      return parameters;
    },
  });
}

const newTask = (): TrainingTask =>
  newTrainingTask({
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: instance.id, trainingParams: { batch: 8 } },
    now: new Date(time),
    timeoutMs: 60_000,
    handle: "h1" as Id,
    generatedHandle: false,
    setAsDefault: true,
  });

const running: TrainResponse = { status: { taskId: "t1", state: "running" } };
const transient = () => new RemoteError("[test] plugin server down", { retryable: true });

function runOf(task: TrainingTask, client: PluginClient, signal = new AbortController().signal) {
  return createDriveRun(ctx, { task, client, instance }, signal);
}

describe("firstTrainCall", () => {
  it("fetches and merges the training parameters once, records ahead, then trains", async () => {
    const task = newTask();
    const response = await firstTrainCall(runOf(task, scriptedClient([running])));
    expect(response).toBe(running);
    expect(parameterCalls).toEqual([
      {
        data: { pluginInstance: "inst", trainingParams: { batch: 8 } },
        context: { pluginInstanceId: "inst", workspace: "ws" },
      },
    ]);
    expect(task.trainingParameters).toEqual({ trainingEpochs: 4, trainingParams: { lr: 0.1 } });
    expect(task.trainPluginInput).toMatchObject({
      pluginInstance: "inst",
      trainingEpochs: 4,
      trainingParams: { batch: 8, lr: 0.1 },
    });
    expect(task.startedAt).toBe("2025-03-01T00:00:00.000Z");
    expect(recorded).toEqual([
      "started:undefined:running:0",
      "parameters:parameters:running:0",
      "-:training:running:1",
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      data: task.trainPluginInput,
      status: { taskId: "t1", state: "waiting" },
      isStatusCheck: false,
    });
    expect(calls[0]?.retry).toBeUndefined();
    expect(points).toEqual([
      ["before-train", undefined],
      ["after-train", running],
    ]);
  });

  it("does not ask for parameters again when the merged input is recorded", async () => {
    const task = newTask();
    task.trainPluginInput = { pluginInstance: "inst", trainingEpochs: 2 };
    task.phase = "parameters";
    await firstTrainCall(runOf(task, scriptedClient([running])));
    expect(parameterCalls).toEqual([]);
    expect(calls[0]?.data).toEqual({ pluginInstance: "inst", trainingEpochs: 2 });
  });

  it("refuses parameters that do not make a valid train input, without training", async () => {
    const task = newTask();
    const client = scriptedClient([running], { trainingEpochs: -3 });
    const error = await firstTrainCall(runOf(task, client)).catch((e: unknown) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(calls).toEqual([]);
  });

  it("repeats a call that was in flight when the last driver stopped as a retry", async () => {
    const task = newTask();
    task.trainPluginInput = { pluginInstance: "inst" };
    task.phase = "training";
    task.attempts = 1;
    await firstTrainCall(runOf(task, scriptedClient([running])));
    expect(calls[0]?.retry).toBe(true);
    expect(task.attempts).toBe(2);
  });

  it("repeats a transiently failing call as a retry, after the policy's backoff", async () => {
    const task = newTask();
    const client = scriptedClient([transient(), transient(), running]);
    const response = await firstTrainCall(runOf(task, client));
    expect(response).toBe(running);
    expect(calls.map((c) => c.retry ?? false)).toEqual([false, true, true]);
    expect(sleeps).toEqual([nextPollDelay(ctx.policy, 0), nextPollDelay(ctx.policy, 1)]);
    expect(task.attempts).toBe(3);
    expect(recorded.slice(-2)).toEqual(["-:training:running:2", "-:training:running:3"]);
    expect(warnings).toHaveLength(2);
  });

  it("throws a failure that is not transient at once", async () => {
    const task = newTask();
    const error = await firstTrainCall(runOf(task, scriptedClient([new Error("bug"), running])))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe("bug");
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(points.map(([point]) => point)).toEqual(["before-train"]);
  });

  it("gives up once transient failures exhaust the poll policy", async () => {
    const task = newTask();
    const client = scriptedClient([transient(), transient(), transient(), running]);
    const error = await firstTrainCall(runOf(task, client)).catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(calls).toHaveLength(3);
  });
});
