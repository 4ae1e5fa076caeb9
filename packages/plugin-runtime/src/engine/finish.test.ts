import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DriveContext, DrivePoint } from "./drive-context.js";
import { finish } from "./finish.js";
import { DEFAULT_POLL_POLICY } from "./poll-policy.js";
import type { TrainingTask } from "./training-task.js";

let root: string;
let recorded: Array<{ type?: string; state: string }>;
let points: DrivePoint[];
let ctx: DriveContext;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "finish-"));
  recorded = [];
  points = [];
  ctx = {
    clock: { now: () => new Date("2025-03-01T00:00:00.000Z"), sleep: async () => {} },
    policy: { ...DEFAULT_POLL_POLICY },
    logger: { warn: () => {}, error: () => {} },
    hooks: { at: (point) => void points.push(point) },
    maxUpdates: 10,
    modelDir: (taskId) => join(root, taskId, "model"),
    record: async (task, type) => void recorded.push({ type, state: task.state }),
    contextOf: (instanceId) => ({ pluginInstanceId: instanceId, workspace: "ws" }),
    ensureRegistered: async () => {},
  };
});
afterEach(() => rm(root, { recursive: true, force: true }));

const newTask = (): TrainingTask =>
  ({
    taskId: "t1",
    plugin: "p",
    state: "running",
    save: { handle: "h1", setAsDefault: true },
    updates: [],
    statusChecks: 0,
  }) as unknown as TrainingTask;

describe("finish", () => {
  it("records a success with its checkpoint and removes the model's folders", async () => {
    await mkdir(join(root, "t1", "model"), { recursive: true });
    await mkdir(join(root, "t1", "model.previous"), { recursive: true });
    const final = await finish(ctx, newTask(), {
      state: "succeeded",
      response: {
        data: { archivePath: "a/b.tar" },
        status: {
          taskId: "t1",
          state: "succeeded",
          output: { handle: "h2", digest: "d", archivePath: "a/b.tar", setAsDefault: false },
        },
      },
    });
    expect(final).toMatchObject({
      state: "succeeded",
      phase: "finished",
      finishedAt: "2025-03-01T00:00:00.000Z",
      checkpoint: { handle: "h2", archivePath: "a/b.tar", digest: "d", setAsDefault: false },
      statusMessage: "Training succeeded",
    });
    expect(points).toEqual(["before-finish"]);
    expect(recorded).toEqual([{ type: "finished", state: "succeeded" }]);
    await expect(stat(join(root, "t1", "model"))).rejects.toThrow();
    await expect(stat(join(root, "t1", "model.previous"))).rejects.toThrow();
  });

  it("without a saved report, records the handle asked", async () => {
    const final = await finish(ctx, newTask(), {
      state: "succeeded",
      response: { data: { archivePath: "x.tar" }, status: { taskId: "t1", state: "succeeded" } },
    });
    expect(final.checkpoint).toEqual({ handle: "h1", archivePath: "x.tar" });
  });

  it("records the error given, or the plugin's status, or a default per state", async () => {
    const given = await finish(ctx, newTask(), {
      state: "failed",
      error: { code: "TIMEOUT", message: "late" },
    });
    expect(given).toMatchObject({
      error: { code: "TIMEOUT", message: "late" },
      statusMessage: "late",
    });
    const answered = await finish(ctx, newTask(), {
      state: "failed",
      response: {
        status: { taskId: "t1", state: "failed", statusCode: "OOM", statusMessage: "big" },
      },
    });
    expect(answered).toMatchObject({
      error: { code: "OOM", message: "big" },
      remoteStatus: { statusCode: "OOM" },
    });
    const cancelled = await finish(ctx, newTask(), { state: "cancelled" });
    expect(cancelled.error).toEqual({ code: "CANCELLED", message: "[runtime] Training cancelled" });
  });
});
