import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type CheckpointStore, NotFoundError, type TrainableError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TaskEvent } from "../task-event.js";
import type { TrainingTask } from "../training-task.js";
import { createLocalEngineState } from "./local-engine-state.js";

let root: string;
let store: CheckpointStore;
let warnings: string[];
const logger = () => ({ warn: (message: string) => void warnings.push(message), error: () => {} });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "local-state-"));
  store = await createCheckpointStore({
    url: pathToFileURL(join(root, "store")).href,
    workspace: "ws",
  });
  warnings = [];
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("createLocalEngineState", () => {
  it("checks its options when called", async () => {
    await expect(createLocalEngineState({ store, dataDir: "" })).rejects.toThrow(
      "[runtime] Invalid dataDir: is required: the engine's state folder (a path), got",
    );
    await expect(
      createLocalEngineState({ store, dataDir: root, defaultTimeoutMs: 0 }),
    ).rejects.toThrow("[runtime] Invalid defaultTimeoutMs");
    await expect(
      createLocalEngineState({ store, dataDir: root, pollPolicy: { multiplier: 0.5 } }),
    ).rejects.toThrow("pollPolicy.multiplier");
  });

  it("loads the records found in dataDir, warning about unreadable ones", async () => {
    await mkdir(join(root, "data", "instances"), { recursive: true });
    await writeFile(
      join(root, "data", "instances", "inst.json"),
      JSON.stringify({
        schemaVersion: 1,
        id: "inst",
        plugin: "plug",
        config: {},
        createdAt: "2025-01-01T00:00:00.000Z",
        updatedAt: "2025-01-01T00:00:00.000Z",
      }),
    );
    await writeFile(join(root, "data", "instances", "bad.json"), "{ not json");
    const state = await createLocalEngineState({
      store,
      dataDir: join(root, "data"),
      logger: logger(),
    });
    expect([...state.instances.keys()]).toEqual(["inst"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[runtime\] Skipped an unreadable engine file: /);
  });

  it("answers NotFound for an unknown plugin or instance, and refuses calls once closed", async () => {
    const state = await createLocalEngineState({ store, dataDir: root, logger: logger() });
    expect(() => state.pluginOf("nope")).toThrow(NotFoundError);
    expect(() => state.pluginOf("nope")).toThrow('[runtime] Unknown plugin "nope"');
    expect(() => state.instanceOf("x" as never)).toThrow('[runtime] Unknown plugin instance "x"');
    state.assertOpen();
    state.closed = true;
    expect(() => state.assertOpen()).toThrow("[runtime] The engine is closed");
    try {
      state.assertOpen();
    } catch (error) {
      expect((error as TrainableError).code).toBe("INTERNAL");
    }
  });

  it("records a task (stamped, on disk) and emits its event with a copy", async () => {
    const times = [new Date("2025-03-01T00:00:00.000Z")];
    const clock = { now: () => times[0] as Date, sleep: async () => {} };
    const state = await createLocalEngineState({ store, dataDir: root, clock, logger: logger() });
    const events: TaskEvent[] = [];
    state.emitter.on("task", (event: TaskEvent) => events.push(event));
    const task = {
      schemaVersion: 1,
      taskId: "t1",
      instanceId: "inst",
      plugin: "plug",
      state: "waiting",
      createdAt: "2025-01-01T00:00:00.000Z",
      updatedAt: "2025-01-01T00:00:00.000Z",
      deadline: "2026-01-01T00:00:00.000Z",
      input: { pluginInstance: "inst" },
      save: { handle: "h", setAsDefault: true },
      statusChecks: 0,
      updates: [],
    } as unknown as TrainingTask;
    await state.record(task, "created");
    await state.record(task);
    expect(task.updatedAt).toBe("2025-03-01T00:00:00.000Z");
    expect(events.map((e) => e.type)).toEqual(["created"]);
    expect(events[0]?.task).toEqual(task);
    expect(events[0]?.task).not.toBe(task);
    const reloaded = await createLocalEngineState({ store, dataDir: root, logger: logger() });
    expect(reloaded.tasks.get("t1")?.updatedAt).toBe("2025-03-01T00:00:00.000Z");
  });
});
