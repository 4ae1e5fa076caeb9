import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Id } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach } from "vitest";
import type { PluginClient } from "../../../client/plugin-client.js";
import type { TrainResponse } from "../../../training/create-training-coordinator.js";
import type { TrainRequest } from "../../../training/train-request.js";
import type { Clock } from "../../clock.js";
import type { EngineInstance } from "../../engine-instance.js";
import { newTrainingTask } from "../../new-training-task.js";
import type { TrainingTask } from "../../training-task.js";
import { createLocalEngineState, type LocalEngineState } from "../local-engine-state.js";

/** The plugin instance every task of these tests is for (plugin `plug`). */
export const instance: EngineInstance = {
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config: {},
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
};

/** What a plugin answers for a training that saved checkpoint `h1`. */
export const succeeded: TrainResponse = {
  data: { archivePath: "blobs/x.tar" },
  status: {
    taskId: "t1",
    state: "succeeded",
    output: { handle: "h1", archivePath: "blobs/x.tar" },
  },
};

/** Short waits pass at once; the training's deadline never comes (until called off). */
function fastClock(now: () => Date): Clock {
  return {
    now,
    sleep: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (ms <= 1_000) return Promise.resolve();
      return new Promise<void>((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true }),
      );
    },
  };
}

/** Task `taskId` (`t1`) of `instance` recorded as startTraining records it (no one drives it yet). */
export async function recordTask(
  state: LocalEngineState,
  changes: Partial<TrainingTask> = {},
  taskId = "t1",
): Promise<TrainingTask> {
  const task: TrainingTask = {
    ...newTrainingTask({
      taskId: taskId as Id,
      instance,
      input: { pluginInstance: instance.id },
      now: new Date(),
      timeoutMs: 60_000,
      handle: "h1" as Id,
      generatedHandle: false,
      setAsDefault: true,
    }),
    ...changes,
  };
  state.tasks.set(task.taskId, task);
  await state.record(task, "created");
  return task;
}

export interface LocalEngineEnv {
  /** Errors the engine logged in this test. */
  errors: string[];
  /** The train and cancel requests the fake clients received in this test. */
  trains: TrainRequest[];
  cancels: TrainRequest[];
  /** A client whose train answers `answer` (a hanging one rejects when its signal aborts). */
  fakeClient(answer: (request: TrainRequest) => Promise<TrainResponse>): PluginClient;
  /** A fresh engine state on this test's data folder and memory store, `instance` known. */
  makeState(): Promise<LocalEngineState>;
}

/**
 * A temp data folder and a memory store per test (registered as hooks of the calling file),
 * with the engine state the local engine's modules work on.
 */
export function useLocalEngineEnv(
  name: string,
  options: {
    /** Register plugin `plug` as a client answering `succeeded`. Default false. */
    plugin?: boolean;
    /** The clock's time. Default: the real time. */
    now?: () => Date;
  } = {},
): LocalEngineEnv {
  const clock = fastClock(options.now ?? (() => new Date()));
  let root = "";
  let store: Awaited<ReturnType<typeof createCheckpointStore>> | undefined;
  const env: LocalEngineEnv = {
    errors: [],
    trains: [],
    cancels: [],
    fakeClient: (answer) => ({
      kind: "http",
      name: "fake",
      registerInstance: async (i) => i,
      run: async () => undefined,
      getTrainingParameters: async () => ({}),
      train: async (request) => {
        env.trains.push(request);
        return answer(request);
      },
      cancelTraining: async (request) => {
        env.cancels.push(request);
        return { status: { state: "cancelled" } };
      },
    }),
    makeState: async () => {
      if (!store) throw new Error("makeState is for use inside a test");
      const state = await createLocalEngineState({
        store,
        dataDir: root,
        clock,
        logger: { warn: () => {}, error: (message) => void env.errors.push(message) },
      });
      state.instances.set(instance.id, instance);
      if (options.plugin)
        state.plugins.set(
          "plug",
          env.fakeClient(async () => succeeded),
        );
      return state;
    },
  };
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `${name}-`));
    store = await createCheckpointStore({
      url: `memory://${name}-${randomUUID()}`,
      workspace: "ws",
    });
    env.errors.length = 0;
    env.trains.length = 0;
    env.cancels.length = 0;
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(root, { recursive: true, force: true });
  });
  return env;
}
