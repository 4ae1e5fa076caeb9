import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type InvocableResponse,
  type PluginRequest,
  RemoteError,
  TrainableError,
  TrainableModel,
  type TrainContext,
  type TrainPluginInput,
  type TrainPluginOutput,
} from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type Clock,
  createLocalEngine,
  createPluginApp,
  type LocalEngine,
  systemClock,
  TrainableTaggerPluginService,
  type TrainingTask,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { KeywordClassifier, KeywordTagger, LengthClassifier } from "./__fixtures__/plugins.mjs";

/** Status checks fail as scripted: "transient" (retryable), "fatal", or succeed. */
const script: string[] = [];

class ScriptedModel extends TrainableModel<{ note?: string }> {
  async saveToFolder(dir: string) {
    await writeFile(join(dir, "state.json"), "{}");
  }
  async loadFromFolder() {}
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return {
      status: { state: "running", remoteStatusInput: { job: 1 }, retryAfterMs: 15 },
    };
  }
  override async trainStatus(
    _request: PluginRequest<TrainPluginInput>,
    _context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const next = script.shift() ?? "done";
    if (next === "transient")
      throw new RemoteError("[test] service unavailable", { retryable: true });
    if (next === "fatal") throw new RemoteError("[test] job vanished", { retryable: false });
    if (next === "slow") return { status: { state: "running", retryAfterMs: 86_000_000 } };
    return { data: { trainingResults: { ok: 1 } }, status: { state: "succeeded" } };
  }
}

class ScriptedTagger extends TrainableTaggerPluginService<{ note?: string }, ScriptedModel> {
  configSchema = z.object({ note: z.string().optional() });
  modelClass = ScriptedModel;
  async runWithModel() {
    return { file: { blocks: [] } };
  }
}

/** A clock that records every wait and waits only 1 ms. */
function recordingClock(waits: number[]): Clock {
  return {
    now: () => new Date(),
    sleep: (ms, signal) => {
      if (ms < 60_000) waits.push(ms);
      return systemClock.sleep(ms < 60_000 ? 1 : ms, signal);
    },
  };
}

describe("local engine", () => {
  let env: TestEnv;
  let engine: LocalEngine;
  let waits: number[];

  const open = async () =>
    createLocalEngine({
      store: env.store,
      cache: env.cache,
      dataDir: env.dir("engine"),
      clock: recordingClock(waits),
      pollPolicy: {
        initialDelayMs: 10,
        maxRetryAfterMs: 1_000,
        maxConsecutiveErrors: 3,
        unreachableForMs: 0,
      },
      logger: silentLogger,
    });

  beforeEach(async () => {
    env = await createTestEnv();
    waits = [];
    script.length = 0;
    engine = await open();
    engine.registerPlugin("scripted", new ScriptedTagger());
    engine.registerPlugin("keyword", new KeywordTagger());
    await engine.createInstance({ id: "s", plugin: "scripted", config: {} });
  });

  afterEach(async () => {
    await engine.close();
    await env.cleanup();
  });

  it("honours retryAfterMs, bounded by the poll policy", async () => {
    script.push("slow", "done");
    const task = await engine.train("s", {});
    expect(task.state, task.error?.message).toBe("succeeded");
    // 15 ms asked by train(), then 86 000 000 ms asked, capped at maxRetryAfterMs.
    expect(waits).toEqual([15, 1_000]);
    expect(task.statusChecks).toBe(2);
  });

  it("retries transient status-check failures with backoff, then succeeds", async () => {
    script.push("transient", "transient", "done");
    const task = await engine.train("s", {});
    expect(task.state, task.error?.message).toBe("succeeded");
    expect(task.statusChecks).toBe(3);
    expect(waits).toEqual([15, 10, 20]);
  });

  it("fails after too many transient failures in a row, or at once on a fatal one", async () => {
    script.push("transient", "transient", "transient", "done");
    const task = await engine.train("s", {});
    expect(task.state).toBe("failed");
    expect(task.error).toEqual({ code: "REMOTE", message: "[test] service unavailable" });
    script.length = 0;
    script.push("fatal");
    const fatal = await engine.train("s", {});
    expect(fatal.error?.message).toBe("[test] job vanished");
  });

  it("refuses to train a plugin that is not trainable", async () => {
    engine.registerPlugin("length", new LengthClassifier());
    await engine.createInstance({ id: "len", plugin: "length" });
    await expect(engine.train("len", {})).rejects.toSatisfy(
      (e) => TrainableError.isInstance(e) && e.code === "NOT_SUPPORTED",
    );
    expect(await engine.run("len", { texts: ["hello"] })).toEqual({
      results: [{ labels: [{ label: "short", score: 1 }] }],
    });
  });

  it("trains and serves a classifier", async () => {
    engine.registerPlugin("classifier", new KeywordClassifier());
    await engine.createInstance({ id: "cls", plugin: "classifier" });
    const task = await engine.train("cls", { trainingParams: { keywords: ["spam", "ham"] } });
    expect(task.state).toBe("succeeded");
    expect(await engine.run("cls", { texts: ["cheap spam"], topK: 1 })).toEqual({
      results: [{ labels: [{ label: "spam", score: 1 }] }],
    });
  });

  it("serves its instances over HTTP through createPluginApp", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "served" } });
    await engine.train("kw", { trainingParams: { keywords: ["x"] } });
    const app = createPluginApp(new KeywordTagger(), {
      store: env.store,
      cache: env.cache,
      instances: engine.instances,
    });
    const response = await app.request("/tag", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        data: { file: { blocks: [{ text: "x" }] } },
        context: { pluginInstanceId: "kw" },
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      data: { file: { blocks: Array<{ tags: Array<{ kind: string }> }> } };
    };
    expect(body.data.file.blocks[0]?.tags[0]?.kind).toBe("served");
  });

  it("stops watching when the signal aborts", async () => {
    script.push("slow");
    const run = await engine.startTraining("s", {}, { timeoutMs: 5_000 });
    const controller = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of engine.watch(run.taskId, { signal: controller.signal })) {
        seen.push(event.type);
      }
    })();
    controller.abort();
    await watching;
    expect(seen[0]).toBe("snapshot");
    await engine.cancel(run.taskId);
  });

  it("on resume: starts waiting tasks, fails interrupted ones, skips unreadable files", async () => {
    await engine.close();
    const tasksDir = join(env.dir("engine"), "tasks");
    const base: TrainingTask = {
      schemaVersion: 1,
      taskId: "waiting-1",
      instanceId: "s",
      plugin: "scripted",
      state: "waiting",
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      deadline: new Date(Date.now() + 600_000).toISOString(),
      input: { pluginInstance: "s" },
      save: { handle: "w1", setAsDefault: true },
      statusChecks: 0,
      updates: [],
    };
    const write = async (task: unknown, id: string) => {
      await mkdir(join(tasksDir, id), { recursive: true });
      await writeFile(join(tasksDir, id, "task.json"), JSON.stringify(task));
    };
    await write(base, "waiting-1");
    await write({ ...base, taskId: "interrupted-1", state: "running" }, "interrupted-1");
    await mkdir(join(tasksDir, "corrupt-1"), { recursive: true });
    await writeFile(join(tasksDir, "corrupt-1", "task.json"), "{ not json");
    await write({ ...base, taskId: "invalid-1", state: "exploded" }, "invalid-1");

    const warnings: string[] = [];
    engine = await createLocalEngine({
      store: env.store,
      dataDir: env.dir("engine"),
      clock: recordingClock(waits),
      logger: { warn: (message) => warnings.push(message), error: () => {} },
    });
    expect(warnings).toHaveLength(2);
    expect(warnings.join("\n")).toMatch(/corrupt-1/);
    expect(warnings.join("\n")).toMatch(/invalid-1[\s\S]*state/);
    engine.registerPlugin("scripted", new ScriptedTagger());
    // Before resume() nothing drives the unfinished task: wait() says so instead of hanging.
    await expect(engine.wait("waiting-1")).rejects.toThrow(/call resume\(\) first/);
    const result = await engine.resume();
    expect(result).toEqual({ resumed: ["waiting-1"], interrupted: ["interrupted-1"], skipped: [] });
    const waited = await engine.wait("waiting-1");
    expect(waited.error).toBeUndefined();
    expect(waited).toMatchObject({
      state: "succeeded",
      checkpoint: { handle: "w1" },
    });
    expect(engine.getTask("interrupted-1")).toMatchObject({
      state: "failed",
      error: { code: "INTERNAL", message: expect.stringMatching(/Interrupted/) },
    });
  });

  it("gives two engines sharing a store and an instance distinct handles in one millisecond", async () => {
    // Two engines on their own data folders, one store, one instance, one clock instant:
    // their generated create-only handles must not collide (a collision fails the save).
    const instant = new Date("2025-03-01T14:22:33.123Z");
    const open = (name: string) =>
      createLocalEngine({
        store: env.store,
        dataDir: env.dir(name),
        clock: { now: () => instant, sleep: (ms, signal) => systemClock.sleep(ms, signal) },
        logger: silentLogger,
      });
    const engines = [await open("one"), await open("two")];
    try {
      const tasks: TrainingTask[] = [];
      for (const each of engines) {
        each.registerPlugin("keyword", new KeywordTagger());
        await each.createInstance({ id: "kw", plugin: "keyword" });
        tasks.push(await each.train("kw", { trainingParams: { keywords: ["x"] } }));
      }
      for (const task of tasks) expect(task.state, task.error?.message).toBe("succeeded");
      const handles = tasks.map((task) => task.save.handle);
      expect(new Set(handles).size).toBe(2);
      for (const handle of handles) expect(handle).toMatch(/^v20250301-142233-123-[0-9a-f]{16}$/);
    } finally {
      await Promise.all(engines.map((each) => each.close()));
    }
  });

  it("cancels its training on a request from another engine object on its dataDir", async () => {
    // An embedded engine (the real clock and poll policy) whose training runs on: its
    // status check answers "running, check again in a day" (waits of 5 min at most).
    const open = () =>
      createLocalEngine({ store: env.store, dataDir: env.dir("shared"), logger: silentLogger });
    const driver = await open();
    driver.registerPlugin("scripted", new ScriptedTagger());
    await driver.createInstance({ id: "s", plugin: "scripted", config: {} });
    script.push("slow");
    const run = await driver.startTraining("s", {});
    await new Promise<void>((resolve) => {
      const off = driver.on("task", (event) => {
        if (event.taskId === run.taskId && event.type === "status") resolve(off());
      });
    });
    const other = await open();
    try {
      const answer = await other.requestCancel(run.taskId);
      expect(answer).toMatchObject({ requested: true, task: { state: "running" } });
      const final = await run.done;
      expect(final).toMatchObject({
        state: "cancelled",
        error: { code: "CANCELLED", message: expect.stringMatching(/requested by another/) },
      });
      // Once it ended, the other engine answers it as it is.
      expect(await other.requestCancel(run.taskId)).toMatchObject({
        requested: false,
        task: { state: "cancelled" },
      });
    } finally {
      await other.close();
      await driver.close();
    }
  });

  it("validates its own options", async () => {
    await expect(createLocalEngine({ store: env.store, dataDir: "" })).rejects.toThrow(/dataDir/);
    await expect(
      createLocalEngine({ store: env.store, dataDir: env.dir("x"), defaultTimeoutMs: -5 }),
    ).rejects.toThrow(/defaultTimeoutMs/);
    await expect(engine.train("s", {}, { timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
    expect(() => engine.registerPlugin("bad name!", new KeywordTagger())).toThrow(/plugin name/);
  });
});
