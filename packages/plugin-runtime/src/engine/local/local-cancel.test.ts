import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConflictError, type Id, NotFoundError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PluginClient } from "../../client/plugin-client.js";
import type { TrainResponse } from "../../training/create-training-coordinator.js";
import type { TrainRequest } from "../../training/train-request.js";
import type { Clock } from "../clock.js";
import type { EngineInstance } from "../engine-instance.js";
import { newTrainingTask } from "../new-training-task.js";
import { isTaskLock, lockTask } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import { launchTask } from "./launch-task.js";
import { cancelTask } from "./local-cancel.js";
import { createLocalEngineState, type LocalEngineState } from "./local-engine-state.js";

const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

/** Short waits pass at once; the training's deadline never comes (until called off). */
const fastClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 1_000) return Promise.resolve();
    return new Promise<void>((_, reject) =>
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true }),
    );
  },
};

let root: string;
let store: Awaited<ReturnType<typeof createCheckpointStore>>;
let errors: string[];
let trains: TrainRequest[];
let cancels: TrainRequest[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "local-cancel-"));
  store = await createCheckpointStore({ url: `memory://cancel-${randomUUID()}`, workspace: "ws" });
  errors = [];
  trains = [];
  cancels = [];
});
afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

async function makeState(): Promise<LocalEngineState> {
  const state = await createLocalEngineState({
    store,
    dataDir: root,
    clock: fastClock,
    logger: { warn: () => {}, error: (message) => void errors.push(message) },
  });
  state.instances.set(instance.id, instance);
  return state;
}

/** A client whose train answers `answer` (a hanging one rejects when its signal aborts). */
function fakeClient(answer: (request: TrainRequest) => Promise<TrainResponse>): PluginClient {
  return {
    kind: "http",
    name: "fake",
    registerInstance: async (i) => i,
    run: async () => undefined,
    getTrainingParameters: async () => ({}),
    train: async (request) => {
      trains.push(request);
      return answer(request);
    },
    cancelTraining: async (request) => {
      cancels.push(request);
      return { status: { state: "cancelled" } };
    },
  };
}

const succeeded: TrainResponse = {
  data: { archivePath: "blobs/x.tar" },
  status: {
    taskId: "t1",
    state: "succeeded",
    output: { handle: "h1", archivePath: "blobs/x.tar" },
  },
};

/** A task recorded like startTraining does (no one drives it yet). */
async function recordedTask(state: LocalEngineState) {
  const task: TrainingTask = newTrainingTask({
    taskId: "t1" as Id,
    instance,
    input: { pluginInstance: instance.id },
    now: new Date(),
    timeoutMs: 60_000,
    handle: "h1" as Id,
    generatedHandle: false,
    setAsDefault: true,
  });
  state.tasks.set(task.taskId, task);
  await state.record(task, "created");
  return task;
}

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
    const task = await recordedTask(state);
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
    const task = await recordedTask(state);
    task.state = "succeeded";
    const answer = await cancelTask(state, "t1");
    expect(answer).toEqual(task);
    expect(answer).not.toBe(task);
    expect(answer.state).toBe("succeeded");
    expect(cancels).toEqual([]);
  });

  it("cancels a task no one drives here: stops the plugin's job, records it, releases the lock", async () => {
    const state = await makeState();
    const task = await recordedTask(state);
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
    const task = await recordedTask(state);
    task.state = "running";
    const final = await cancelTask(state, "t1");
    expect(final.state).toBe("cancelled");
    expect(cancels).toEqual([]);
  });

  it("refuses a task another driver holds (ConflictError), leaving it as it is", async () => {
    const state = await makeState();
    const task = await recordedTask(state);
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
