import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Id, RemoteError } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { scriptedClient as scripted } from "./__fixtures__/scripted-client.js";
import { CLOSING, type DriveContext, type DrivePoint } from "./drive-context.js";
import { driveTraining } from "./drive-training.js";
import type { EngineInstance } from "./engine-instance.js";
import { newTrainingTask } from "./new-training-task.js";
import { DEFAULT_POLL_POLICY } from "./poll-policy.js";
import type { TrainingTask } from "./training-task.js";

let root: string;
let ctx: DriveContext;
let events: string[];
let points: DrivePoint[];
let calls: TrainRequest[];
let cancels: number;

const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

/** A clock that waits only for the training's deadline (until it is called off). */
const fastClock = {
  now: () => new Date(),
  sleep: (ms: number, signal?: AbortSignal) => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 1_000) return Promise.resolve();
    return new Promise<void>((_, reject) =>
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true }),
    );
  },
};

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "drive-"));
  events = [];
  points = [];
  calls = [];
  cancels = 0;
  ctx = {
    clock: fastClock,
    policy: { ...DEFAULT_POLL_POLICY, maxConsecutiveErrors: 2, unreachableForMs: 0 },
    logger: { warn: () => {}, error: () => {} },
    hooks: { at: (point) => void points.push(point) },
    maxUpdates: 10,
    modelDir: (taskId) => join(root, taskId),
    record: async (task, type) => {
      if (type) events.push(`${type}:${task.phase ?? "-"}`);
    },
    contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: "ws" }),
    ensureRegistered: async () => {},
  };
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A client whose train calls answer (or throw) the scripted results in turn. */
function scriptedClient(script: Array<TrainResponse | Error>): PluginClient {
  return scripted(script, {
    calls,
    parameters: async () => ({ trainingEpochs: 3 }),
    onCancel: () => {
      cancels++;
    },
  });
}

const newTask = (): TrainingTask =>
  newTrainingTask({
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: instance.id },
    now: new Date(),
    timeoutMs: 60_000,
    handle: "h1" as Id,
    generatedHandle: true,
    setAsDefault: true,
  });

const running: TrainResponse = { status: { taskId: "t1", state: "running", retryAfterMs: 0 } };
const succeeded: TrainResponse = {
  data: { archivePath: "x.tar" },
  status: { taskId: "t1", state: "succeeded" },
};

describe("driveTraining", () => {
  it("merges the parameters, trains, checks the status until final, recording ahead", async () => {
    const client = scriptedClient([running, running, succeeded]);
    const final = await driveTraining(ctx, {
      task: newTask(),
      client,
      instance,
      controller: new AbortController(),
    });
    expect(final).toMatchObject({ state: "succeeded", statusChecks: 2, attempts: 1 });
    expect(final.trainPluginInput).toEqual({ pluginInstance: "inst", trainingEpochs: 3 });
    expect(events).toEqual([
      "started:-",
      "parameters:parameters",
      "status:polling",
      "status:polling",
      "finished:finished",
    ]);
    expect(calls.map((c) => [c.isStatusCheck, c.retry ?? false])).toEqual([
      [false, false],
      [true, false],
      [true, false],
    ]);
    expect(points).toEqual([
      "before-train",
      "after-train",
      "before-status-check",
      "after-status-check",
      "before-status-check",
      "after-status-check",
      "before-finish",
    ]);
  });

  it("repeats a train call that failed transiently as a retry", async () => {
    const client = scriptedClient([new RemoteError("down", { retryable: true }), succeeded]);
    const final = await driveTraining(ctx, {
      task: newTask(),
      client,
      instance,
      controller: new AbortController(),
    });
    expect(final).toMatchObject({ state: "succeeded", attempts: 2 });
    expect(calls.map((c) => c.retry ?? false)).toEqual([false, true]);
  });

  it("resumes status checks from a recorded running status, the first as a retry", async () => {
    const task = newTask();
    task.state = "running";
    task.phase = "polling";
    task.trainPluginInput = { pluginInstance: instance.id };
    task.remoteStatus = running.status;
    const final = await driveTraining(ctx, {
      task,
      client: scriptedClient([succeeded]),
      instance,
      controller: new AbortController(),
    });
    expect(final.state).toBe("succeeded");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ isStatusCheck: true, retry: true });
  });

  it("gives up after a non-transient status-check failure, stopping the plugin's job", async () => {
    const client = scriptedClient([running, new Error("broken")]);
    const final = await driveTraining(ctx, {
      task: newTask(),
      client,
      instance,
      controller: new AbortController(),
    });
    expect(final.state).toBe("failed");
    expect(final.error).toEqual({
      code: "INTERNAL",
      message: '[runtime] Plugin "plug" failed: broken',
    });
    expect(cancels).toBe(1);
  });

  it("stopped with CLOSING, leaves the task as it is", async () => {
    const controller = new AbortController();
    const client = scriptedClient([running]);
    ctx.hooks = {
      at: (point) => {
        if (point === "before-status-check") controller.abort(CLOSING);
      },
    };
    client.train = async (request) => {
      calls.push(request);
      if (request.isStatusCheck) throw new Error("aborted");
      return running;
    };
    const final = await driveTraining(ctx, { task: newTask(), client, instance, controller });
    expect(final).toMatchObject({ state: "running", phase: "polling" });
    expect(events).not.toContain("finished:finished");
    expect(cancels).toBe(0);
  });
});
