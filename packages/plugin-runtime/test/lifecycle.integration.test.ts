import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createModelCache } from "@trainable/cache";
import { NotFoundError, type PostUpdate, TrainableError, ValidationError } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createHttpPluginClient,
  createLocalEngine,
  type LocalEngine,
  type PluginService,
  type ServedPlugin,
  servePlugin,
  type TaskEvent,
  TrainingTask,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { ExternalTagger, fakeJobs, KeywordTagger } from "./__fixtures__/plugins.mjs";

const modes = ["in-process", "http"] as const;

const fileOf = (...texts: string[]) => ({ file: { blocks: texts.map((text) => ({ text })) } });
const tagNames = (output: unknown) =>
  (output as { file: { blocks: Array<{ tags: Array<{ name: string }> }> } }).file.blocks.map((b) =>
    b.tags.map((t) => t.name),
  );

async function exists(path: string) {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function collect(engine: LocalEngine, taskId: string): Promise<TaskEvent[]> {
  const events: TaskEvent[] = [];
  for await (const event of engine.watch(taskId)) events.push(event);
  return events;
}

describe.each(modes)("training lifecycle (%s)", (mode) => {
  let env: TestEnv;
  let engine: LocalEngine;
  let servers: ServedPlugin[];
  let jobsDir: string;

  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  async function register(name: string, service: PluginService<any, any>) {
    if (mode === "in-process") {
      engine.registerPlugin(name, service);
      return;
    }
    // The plugin server is another "process": its own cache, its own state folder.
    const served = await servePlugin(service, {
      port: 0,
      store: env.store,
      cache: createModelCache({
        store: env.store,
        diskDir: env.dir(`server-cache-${name}`),
        revalidateMs: 0,
      }),
      allowInstanceRegistration: true,
      dataDir: env.dir(`server-${name}`),
      logger: silentLogger,
    });
    servers.push(served);
    engine.registerPlugin(name, createHttpPluginClient(served.url));
  }

  beforeEach(async () => {
    env = await createTestEnv();
    servers = [];
    jobsDir = env.dir("jobs");
    engine = await createLocalEngine({
      store: env.store,
      cache: env.cache,
      dataDir: env.dir("engine"),
      pollPolicy: { initialDelayMs: 10, minDelayMs: 5 },
      logger: silentLogger,
    });
    await register("keyword", new KeywordTagger());
    await register("external", new ExternalTagger());
  });

  afterEach(async () => {
    await engine.close();
    await Promise.all(servers.map((s) => s.close()));
    await env.cleanup();
  });

  it("trains a synchronous plugin end to end, saves, moves default and serves the new model", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "kw" } });
    const seen: TaskEvent[] = [];
    const off = engine.on("task", (event) => seen.push(event));
    const run = await engine.startTraining("kw", {
      trainingEpochs: 1,
      trainingParams: { keywords: ["alpha"] },
    });
    const watched = await collect(engine, run.taskId);
    const task = await run.done;
    off();

    expect(task.state).toBe("succeeded");
    expect(task.error).toBeUndefined();
    // getTrainingParameters amended the input; the merged input is what was trained with.
    expect(task.trainingParameters?.trainingEpochs).toBe(2);
    expect(task.trainPluginInput).toMatchObject({
      pluginInstance: "kw",
      trainingEpochs: 2,
      trainingParams: { keywords: ["alpha"], amendedBy: "KeywordTagger" },
    });
    expect(task.updates.map((u) => (u.update as PostUpdate).output?.trainingProgress)).toEqual([
      { epoch: 1, of: 2, fraction: 0.5 },
      { epoch: 2, of: 2, fraction: 1 },
    ]);
    expect(task.progress).toEqual({ epoch: 2, of: 2, fraction: 1 });
    expect(task.output?.trainingResults).toEqual({ keywordCount: 1, epochs: 2 });
    expect(task.checkpoint?.handle).toMatch(/^v\d{8}-\d{6}-\d{3}-[0-9a-f]{16}$/);

    const ref = await env.store.resolve({ pluginInstanceId: "kw" });
    expect(task.output?.archivePath).toBe(ref.archivePath);
    expect(task.checkpoint?.archivePath).toBe(ref.archivePath);
    expect(ref.metadata.trainPluginInput).toMatchObject({ trainingEpochs: 2 });
    expect(ref.metadata.trainingResults).toEqual({ keywordCount: 1, epochs: 2 });
    const named = await env.store.resolve({
      pluginInstanceId: "kw",
      handle: task.checkpoint?.handle,
    });
    expect(named.digest).toBe(ref.digest);

    // Every event, in order, to a listener; watch() starts with a snapshot and ends with finished.
    const types = seen.filter((e) => e.taskId === run.taskId).map((e) => e.type);
    expect(types.filter((t) => t !== "update")).toEqual([
      "created",
      "started",
      "parameters",
      "finished",
    ]);
    expect(types.filter((t) => t === "update")).toHaveLength(2);
    expect(watched[0]?.type).toBe("snapshot");
    expect(watched.at(-1)?.type).toBe("finished");
    expect(watched.at(-1)?.task.state).toBe("succeeded");

    // The task is on disk, atomically written and valid.
    const onDisk = TrainingTask.parse(
      JSON.parse(await readFile(join(engine.dataDir, "tasks", run.taskId, "task.json"), "utf8")),
    );
    expect(onDisk.state).toBe("succeeded");

    expect(tagNames(await engine.run("kw", fileOf("alpha beta", "none")))).toEqual([["alpha"], []]);

    // A second training moves default: the next run uses it, without a restart.
    const second = await engine.train(
      "kw",
      { trainingParams: { keywords: ["beta"] } },
      { handle: "second" },
    );
    expect(second.state).toBe("succeeded");
    expect(second.checkpoint?.handle).toBe("second");
    expect(tagNames(await engine.run("kw", fileOf("alpha beta")))).toEqual([["beta"]]);
    // The first checkpoint is still there by its handle.
    expect(
      tagNames(await engine.run("kw", fileOf("alpha beta"), { handle: task.checkpoint?.handle })),
    ).toEqual([["alpha"]]);
  });

  it("trains without moving default when told so", async () => {
    await engine.createInstance({ id: "kw2", plugin: "keyword", config: {} });
    await engine.train("kw2", { trainingParams: { keywords: ["one"] } });
    const task = await engine.train(
      "kw2",
      { trainingParams: { keywords: ["two"] } },
      { handle: "candidate", setAsDefault: false },
    );
    expect(task.state).toBe("succeeded");
    expect(tagNames(await engine.run("kw2", fileOf("one two")))).toEqual([["one"]]);
    expect(tagNames(await engine.run("kw2", fileOf("one two"), { handle: "candidate" }))).toEqual([
      ["two"],
    ]);
  });

  it("trains an asynchronous plugin through several status checks", async () => {
    await engine.createInstance({ id: "ext", plugin: "external", config: { jobsDir } });
    const run = await engine.startTraining("ext", {
      trainingParams: { keywords: ["gamma"], checksNeeded: 4, retryAfterMs: 15 },
    });
    const events = await collect(engine, run.taskId);
    const task = await run.done;

    expect(task.state, task.error?.message).toBe("succeeded");
    expect(task.statusChecks).toBe(4);
    expect(task.output?.trainingResults).toEqual({ keywordCount: 1, checks: 4 });
    expect(events.filter((e) => e.type === "status").length).toBeGreaterThanOrEqual(3);
    const statuses = events.filter((e) => e.type === "status").map((e) => e.task.remoteStatus);
    expect(statuses[0]?.remoteStatusInput?.jobId).toMatch(/^job-/);
    expect(statuses[0]?.retryAfterMs).toBe(15);
    expect(task.progress).toEqual({ checks: 4 });
    // The in-training model folder is gone once the training is over.
    expect(await exists(join(engine.dataDir, "tasks", run.taskId, "model"))).toBe(false);

    expect(tagNames(await engine.run("ext", fileOf("gamma ray")))).toEqual([["gamma"]]);
    expect((await env.store.resolve({ pluginInstanceId: "ext" })).archivePath).toBe(
      task.output?.archivePath,
    );
  });

  it("cancels a running asynchronous training and stops its external job", async () => {
    await engine.createInstance({ id: "ext", plugin: "external", config: { jobsDir } });
    const run = await engine.startTraining("ext", {
      trainingParams: { keywords: ["never"], checksNeeded: 1_000_000 },
    });
    let jobId: string | undefined;
    for await (const event of engine.watch(run.taskId)) {
      if (event.type === "status") {
        jobId = event.task.remoteStatus?.remoteStatusInput?.jobId as string;
        break;
      }
    }
    const cancelled = await engine.cancel(run.taskId);
    expect(cancelled.state).toBe("cancelled");
    expect(cancelled.error?.code).toBe("CANCELLED");
    expect(await run.done).toMatchObject({ state: "cancelled" });
    expect((await fakeJobs.read(jobsDir, jobId as string)).state).toBe("cancelled");
    await expect(env.store.resolve({ pluginInstanceId: "ext" })).rejects.toSatisfy((e) =>
      NotFoundError.isInstance(e),
    );
    // Cancelling again is harmless.
    expect((await engine.cancel(run.taskId)).state).toBe("cancelled");
  });

  it("cancels a long synchronous training through an AbortSignal", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: {} });
    const controller = new AbortController();
    const run = await engine.startTraining(
      "kw",
      { trainingEpochs: 50, trainingParams: { keywords: ["x"], epochMs: 100 } },
      { signal: controller.signal },
    );
    for await (const event of engine.watch(run.taskId)) {
      if (event.type === "parameters") break;
    }
    // Well inside `train` (over HTTP, post-updates only arrive with the answer).
    await new Promise((resolve) => setTimeout(resolve, 250));
    controller.abort();
    const task = await run.done;
    expect(task.state).toBe("cancelled");
    // Give a plugin server a moment to notice; nothing may be saved after a cancel.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(env.store.resolve({ pluginInstanceId: "kw" })).rejects.toSatisfy((e) =>
      NotFoundError.isInstance(e),
    );
  });

  it("times out a stuck asynchronous training and stops its job", async () => {
    await engine.createInstance({ id: "ext", plugin: "external", config: { jobsDir } });
    const started = Date.now();
    const task = await engine.train(
      "ext",
      { trainingParams: { keywords: ["x"], checksNeeded: 1_000_000, retryAfterMs: 20 } },
      { timeoutMs: 400 },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(task.state).toBe("failed");
    expect(task.error).toMatchObject({ code: "TIMEOUT" });
    expect(task.error?.message).toMatch(/timed out/);
    const jobId = task.remoteStatus?.remoteStatusInput?.jobId as string;
    expect((await fakeJobs.read(jobsDir, jobId)).state).toBe("cancelled");
  });

  it("times out a stuck synchronous training", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: {} });
    const task = await engine.train(
      "kw",
      { trainingEpochs: 1, trainingParams: { epochMs: 60_000 } },
      { timeoutMs: 300 },
    );
    expect(task.state).toBe("failed");
    expect(task.error?.code).toBe("TIMEOUT");
  });

  it("records a failing training as failed with the plugin's code and message", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: {} });
    const task = await engine.train("kw", { trainingParams: { fail: "loss is NaN" } });
    expect(task.state).toBe("failed");
    expect(task.error).toEqual({ code: "TRAINING", message: "[test] loss is NaN" });
    const crashed = await engine.train("kw", { trainingParams: { crash: true } });
    expect(crashed.state).toBe("failed");
    expect(crashed.error?.code).toBe("INTERNAL");
    expect(JSON.stringify(crashed)).not.toContain("hunter2");
  });

  it("rejects bad configs, unknown plugins and instances, and bad inputs with typed errors", async () => {
    const badConfig = engine.createInstance({
      id: "ext",
      plugin: "external",
      config: { jobsDir: 7 },
    });
    await expect(badConfig).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(badConfig).rejects.toThrow(/jobsDir/);
    expect(engine.getInstance("ext")).toBeUndefined();

    await expect(
      engine.createInstance({ id: "bad/id", plugin: "keyword", config: {} }),
    ).rejects.toSatisfy((e) => ValidationError.isInstance(e));
    await expect(engine.createInstance({ id: "x", plugin: "nope", config: {} })).rejects.toSatisfy(
      (e) => NotFoundError.isInstance(e),
    );
    await expect(engine.train("ghost", {})).rejects.toSatisfy((e) => NotFoundError.isInstance(e));

    await engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "a" } });
    // Same instance again: fine. A different config: a conflict unless replaced.
    await engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "a" } });
    await expect(
      engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "b" } }),
    ).rejects.toSatisfy((e) => TrainableError.isInstance(e) && e.code === "CONFLICT");
    await engine.createInstance({
      id: "kw",
      plugin: "keyword",
      config: { tagKind: "b" },
      replace: true,
    });
    expect(engine.getInstance("kw")?.config).toEqual({ tagKind: "b" });

    await expect(engine.train("kw", { trainingEpochs: -1 })).rejects.toThrow(/trainingEpochs/);
    await expect(engine.train("kw", { pluginInstance: "other" })).rejects.toThrow(/pluginInstance/);
    // Inference input is validated too.
    await engine.train("kw", { trainingParams: { keywords: ["k"] } });
    await expect(engine.run("kw", { file: { blocks: [{ text: 1 }] } })).rejects.toSatisfy(
      (e) => ValidationError.isInstance(e) && /data\.file\.blocks\[0\]\.text/.test(e.message),
    );
    expect(tagNames(await engine.run("kw", fileOf("k")))).toEqual([["k"]]);
  });

  it("lists past tasks and instances after a restart on the same dataDir", async () => {
    await engine.createInstance({ id: "kw", plugin: "keyword", config: { tagKind: "z" } });
    const ok = await engine.train("kw", { trainingParams: { keywords: ["a"] } });
    const failed = await engine.train("kw", { trainingParams: { fail: "nope" } });
    await engine.close();

    engine = await createLocalEngine({
      store: env.store,
      cache: env.cache,
      dataDir: env.dir("engine"),
      logger: silentLogger,
    });
    expect(engine.listInstances().map((i) => [i.id, i.plugin, i.config])).toEqual([
      ["kw", "keyword", { tagKind: "z" }],
    ]);
    const listed = engine.listTasks({ instanceId: "kw" });
    expect(listed.map((t) => [t.taskId, t.state]).sort()).toEqual(
      [
        [ok.taskId, "succeeded"],
        [failed.taskId, "failed"],
      ].sort(),
    );
    expect(engine.getTask(ok.taskId)?.output?.archivePath).toBe(ok.output?.archivePath);
    expect(await engine.resume()).toEqual({ resumed: [], interrupted: [], skipped: [] });
  });
});
