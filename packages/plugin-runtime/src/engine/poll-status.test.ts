import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Id, RemoteError } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { scriptedClient as scripted } from "./__fixtures__/scripted-client.js";
import type { DriveContext, DrivePoint } from "./drive-context.js";
import { createDriveRun } from "./drive-run.js";
import type { EngineInstance } from "./engine-instance.js";
import { newTrainingTask } from "./new-training-task.js";
import { DEFAULT_POLL_POLICY, nextPollDelay } from "./poll-policy.js";
import { pollStatus } from "./poll-status.js";
import type { TrainingTask } from "./training-task.js";

const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

let root: string;
let time: number;
let recorded: string[];
let points: DrivePoint[];
let sleeps: number[];
let ctx: DriveContext;
let calls: TrainRequest[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "poll-status-"));
  time = Date.parse("2025-03-01T00:00:00.000Z");
  recorded = [];
  points = [];
  sleeps = [];
  calls = [];
  ctx = {
    clock: {
      now: () => new Date(time),
      sleep: async (ms) => {
        sleeps.push(ms);
        time += ms;
      },
    },
    policy: { ...DEFAULT_POLL_POLICY, maxConsecutiveErrors: 2, unreachableForMs: 0 },
    logger: { warn: () => {}, error: () => {} },
    hooks: { at: (point) => void points.push(point) },
    maxUpdates: 10,
    modelDir: (taskId) => join(root, taskId),
    record: async (task, type) =>
      void recorded.push(`${type ?? "-"}:${task.phase}:${task.remoteStatus?.statusMessage ?? ""}`),
    contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: "ws" }),
    ensureRegistered: async () => {},
  };
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A client whose train calls answer (or throw) the scripted results in turn. */
function scriptedClient(script: Array<TrainResponse | Error>): PluginClient {
  return scripted(script, { calls });
}

function newTask(): TrainingTask {
  const task = newTrainingTask({
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: instance.id },
    now: new Date(time),
    timeoutMs: 60_000,
    handle: "h1" as Id,
    generatedHandle: false,
    setAsDefault: true,
  });
  task.state = "running";
  task.phase = "training";
  task.trainPluginInput = { pluginInstance: instance.id };
  return task;
}

const running = (message: string, extra: object = {}): TrainResponse => ({
  status: { taskId: "t1", state: "running", statusMessage: message, ...extra },
});
const succeeded: TrainResponse = {
  data: { archivePath: "blobs/t1.tar" },
  status: {
    taskId: "t1",
    state: "succeeded",
    output: { handle: "h1", digest: "sha256:x", archivePath: "blobs/t1.tar" },
  },
};
const transient = () => new RemoteError("[test] down", { retryable: true });

function runOf(task: TrainingTask, client: PluginClient) {
  return createDriveRun(ctx, { task, client, instance }, new AbortController().signal);
}

describe("pollStatus", () => {
  it("checks with the last answered status until final, recording each running answer", async () => {
    const task = newTask();
    const run = runOf(task, scriptedClient([running("two", { retryAfterMs: 250 }), succeeded]));
    const final = await pollStatus(run, running("one", { remoteStatusInput: { job: 1 } }), false);
    expect(run.polling).toBe(true);
    expect(calls.map((c) => [c.isStatusCheck, c.retry ?? false, c.status?.statusMessage])).toEqual([
      [true, false, "one"],
      [true, false, "two"],
    ]);
    expect(calls[0]?.status?.remoteStatusInput).toEqual({ job: 1 });
    expect(recorded).toEqual(["status:polling:one", "status:polling:two", "finished:finished:two"]);
    // The first wait is the policy's; the next is the plugin's retryAfterMs.
    expect(sleeps).toEqual([nextPollDelay(ctx.policy, 0), 250]);
    expect(final).toMatchObject({
      state: "succeeded",
      phase: "finished",
      statusChecks: 2,
      checkpoint: { handle: "h1", digest: "sha256:x", archivePath: "blobs/t1.tar" },
    });
    expect(points).toEqual([
      "before-status-check",
      "after-status-check",
      "before-status-check",
      "after-status-check",
      "before-finish",
    ]);
  });

  it("finishes at once when the first answer is final, removing the model's folder", async () => {
    const task = newTask();
    await mkdir(join(root, "t1"), { recursive: true });
    const run = runOf(task, scriptedClient([]));
    const final = await pollStatus(
      run,
      {
        status: {
          taskId: "t1",
          state: "failed",
          statusCode: "TRAINING",
          statusMessage: "nan loss",
        },
      },
      false,
    );
    expect(calls).toEqual([]);
    expect(run.polling).toBe(false);
    expect(final).toMatchObject({
      state: "failed",
      error: { code: "TRAINING", message: "nan loss" },
    });
    await expect(stat(join(root, "t1"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("with retry, repeats the recorded check at once, without recording it again", async () => {
    const task = newTask();
    task.phase = "polling";
    task.remoteStatus = running("recorded", { remoteStatusInput: { job: 7 } }).status;
    const run = runOf(task, scriptedClient([running("next"), succeeded]));
    await pollStatus(run, { status: task.remoteStatus }, true);
    expect(calls.map((c) => c.retry ?? false)).toEqual([true, false]);
    expect(calls[0]?.status?.remoteStatusInput).toEqual({ job: 7 });
    expect(sleeps).toEqual([nextPollDelay(ctx.policy, 1)]);
    expect(recorded).toEqual(["status:polling:next", "finished:finished:next"]);
  });

  it("retries transient failures with backoff, counting them as checks", async () => {
    const task = newTask();
    const run = runOf(task, scriptedClient([transient(), running("after"), succeeded]));
    const final = await pollStatus(run, running("before", { retryAfterMs: 100 }), false);
    expect(final.state).toBe("succeeded");
    // 100 (retryAfterMs), backoff after one error, then the policy's delay for attempt 1.
    expect(sleeps).toEqual([100, nextPollDelay(ctx.policy, 0), nextPollDelay(ctx.policy, 1)]);
    expect(final.statusChecks).toBe(3);
    // After a failure, the check repeats with the recorded status.
    expect(calls[1]?.status?.statusMessage).toBe("before");
  });

  it("throws a failure that is not transient, or one the policy no longer tolerates", async () => {
    let run = runOf(newTask(), scriptedClient([new Error("bug")]));
    let error = await pollStatus(run, running("r"), false).catch((e: unknown) => e);
    expect((error as Error).message).toBe("bug");
    expect(calls).toHaveLength(1);

    calls = [];
    run = runOf(newTask(), scriptedClient([transient(), transient(), succeeded]));
    error = await pollStatus(run, running("r"), false).catch((e: unknown) => e);
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(calls).toHaveLength(2);
    expect(run.task.state).toBe("running");
  });
});
