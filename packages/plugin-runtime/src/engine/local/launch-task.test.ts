import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CancelledError, type Id } from "@trainable/core";
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
  root = await mkdtemp(join(tmpdir(), "launch-task-"));
  store = await createCheckpointStore({ url: `memory://launch-${randomUUID()}`, workspace: "ws" });
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

/** A task recorded like startTraining does, with its driver lock taken. */
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
