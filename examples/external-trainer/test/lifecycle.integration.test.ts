import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import { RemoteError } from "@trainable/core";
import {
  type ClassifierOutput,
  createLocalEngine,
  type LocalEngine,
  type TaskEvent,
} from "@trainable/plugin-runtime";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExternalClassifier, ExternalModel, ServiceClient } from "../src/index.js";
import { type RunningService, startService } from "./start-service.js";

let root: string;
let service: RunningService;
let store: CheckpointStoreImpl;
let engine: LocalEngine;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "external-trainer-"));
  service = await startService({ dataDir: join(root, "service"), stepMs: 60 });
  store = await createCheckpointStore({
    url: pathToFileURL(join(root, "store")).href,
    workspace: "examples",
  });
  const cache = createModelCache({ store, diskDir: join(root, "cache") });
  engine = await createLocalEngine({
    store,
    cache,
    dataDir: join(root, "engine"),
    pollPolicy: { minDelayMs: 10 },
  });
  engine.registerPlugin("external-trainer", new ExternalClassifier());
  await engine.createInstance({
    id: "ext",
    plugin: "external-trainer",
    config: { serviceUrl: service.url, pollMs: 50 },
  });
});

afterAll(async () => {
  await engine?.close();
  await service?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("external trainer through the local engine", () => {
  it("submits a job, polls it to success, saves the job/model ids and predicts", async () => {
    const events: TaskEvent[] = [];
    const stop = engine.on("task", (event) => events.push(event));
    const task = await engine.train("ext", { trainingEpochs: 12 }, { handle: "v1" });
    stop();
    expect(task.state, task.error?.message).toBe("succeeded");

    // Several status checks, each answered "running" until the job finished.
    expect(task.statusChecks).toBeGreaterThanOrEqual(3);
    const statuses = events.filter((e) => e.type === "status");
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses[0]!.task.remoteStatus?.remoteStatusInput?.jobId).toEqual(expect.any(String));
    const fractions = events
      .filter((e) => e.type === "update")
      .map(
        (e) => (e.update?.output?.trainingProgress as { fraction?: number } | undefined)?.fraction,
      );
    expect(fractions.at(-1)).toBe(1);
    expect(new Set(fractions).size).toBeGreaterThanOrEqual(3);

    const results = task.output?.trainingResults as Record<string, number | string>;
    expect(results.epochs).toBe(12);
    expect(results.trainingAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(results.modelId).toBe(`model-${results.jobId}`);

    // The checkpoint holds where the model lives, not the model.
    const refs = await store.list({ pluginInstanceId: "ext" });
    const v1 = refs.find((r) => r.handle === "v1")!;
    expect(refs.find((r) => r.handle === "default")?.digest).toBe(v1.digest);
    expect(v1.fileCount).toBe(1);
    const manifest = await store.readManifest({ pluginInstanceId: "ext", ref: v1 });
    expect(manifest.files.map((f) => f.path)).toEqual(["external-model.json"]);
    const saved = await store.withCheckpoint({
      pluginInstanceId: "ext",
      handle: "v1",
      use: async (dir) => JSON.parse(await readFile(join(dir, "external-model.json"), "utf8")),
    });
    expect(saved).toMatchObject({
      serviceUrl: service.url,
      jobId: results.jobId,
      modelId: results.modelId,
      labels: ["negative", "positive"],
    });

    const output = (await engine.run("ext", {
      texts: ["a wonderful, friendly and great day", "rude staff and a terrible, awful room"],
    })) as ClassifierOutput;
    expect(output.results.map((r) => r.labels[0]!.label)).toEqual(["positive", "negative"]);
    for (const r of output.results) expect(r.labels[0]!.score).toBeGreaterThan(0.5);

    // A second model with its own examples moves default; the old one still answers by handle.
    const second = await engine.train(
      "ext",
      {
        trainingEpochs: 8,
        trainingParams: {
          examples: [
            { text: "the invoice is attached", label: "work" },
            { text: "meeting moved to monday", label: "work" },
            { text: "quarterly report draft", label: "work" },
            { text: "dinner with mum on sunday", label: "personal" },
            { text: "happy birthday, love you", label: "personal" },
            { text: "holiday photos from the lake", label: "personal" },
          ],
        },
      },
      { handle: "v2" },
    );
    expect(second.state, second.error?.message).toBe("succeeded");
    const mail = (await engine.run("ext", {
      texts: ["report for the meeting"],
    })) as ClassifierOutput;
    expect(mail.results[0]!.labels.map((l) => l.label).sort()).toEqual(["personal", "work"]);
    const old = (await engine.run(
      "ext",
      { texts: ["great"] },
      { handle: "v1" },
    )) as ClassifierOutput;
    expect(old.results[0]!.labels.map((l) => l.label).sort()).toEqual(["negative", "positive"]);
  });

  it("a train call repeated with the same task id gets the first job, never a second", async () => {
    const client = new ServiceClient(service.url);
    const examples = [
      { text: "good", label: "pos" },
      { text: "bad", label: "neg" },
    ];
    const first = await client.submitJob({ examples, epochs: 2, clientToken: "task-42" });
    const again = await client.submitJob({ examples, epochs: 2, clientToken: "task-42" });
    const other = await client.submitJob({ examples, epochs: 2, clientToken: "task-43" });
    expect(again.jobId).toBe(first.jobId);
    expect(other.jobId).not.toBe(first.jobId);
  });

  it("cancelling the training cancels the service's job", async () => {
    const run = await engine.startTraining("ext", { trainingEpochs: 100 });
    for await (const event of engine.watch(run.taskId)) if (event.type === "status") break;
    const jobId = engine.getTask(run.taskId)!.remoteStatus!.remoteStatusInput!.jobId as string;
    const cancelled = await engine.cancel(run.taskId);
    expect(cancelled.state).toBe("cancelled");
    const job = await new ServiceClient(service.url).getJob(jobId);
    expect(job.state).toBe("cancelled");
    expect(job.epoch).toBeLessThan(100);
  });

  it("maps a job that failed on the service to a failed task", async () => {
    const client = new ServiceClient(service.url);
    // Three labels: the service accepts the job, then fails it.
    const job = await client.submitJob({
      examples: [
        { text: "a", label: "x" },
        { text: "b", label: "y" },
        { text: "c", label: "z" },
      ],
      epochs: 1,
    });
    const model = new ExternalModel();
    model.receiveConfig({ serviceUrl: service.url, requestTimeoutMs: 5_000, pollMs: 50 });
    const request = {
      data: { pluginInstance: "ext" },
      status: { state: "running" as const, remoteStatusInput: { jobId: job.jobId } },
      isStatusCheck: true,
    };
    const context = { postUpdate() {}, signal: new AbortController().signal, scratchDir: root };
    let response = await model.trainStatus(request, context);
    for (let i = 0; i < 50 && response.status?.state === "running"; i++) {
      await new Promise((r) => setTimeout(r, 30));
      response = await model.trainStatus(request, context);
    }
    expect(response.status?.state).toBe("failed");
    expect(response.status?.statusMessage).toContain("need exactly 2 labels");
  });

  it("rejects training data with other than two labels before submitting", async () => {
    const task = await engine.train("ext", {
      trainingParams: {
        examples: [
          { text: "a", label: "x" },
          { text: "b", label: "x" },
        ],
      },
    });
    expect(task.state).toBe("failed");
    expect(task.error?.code).toBe("VALIDATION");
    expect(task.error?.message).toContain("trainingParams.examples");
  });

  it("fails clearly when a checkpoint's service is unreachable", async () => {
    const other = await startService({ dataDir: join(root, "other-service"), stepMs: 10 });
    const otherEngine = await createLocalEngine({
      store,
      dataDir: join(root, "other-engine"),
      pollPolicy: { minDelayMs: 10 },
    });
    otherEngine.registerPlugin("external-trainer", new ExternalClassifier());
    await otherEngine.createInstance({
      id: "gone",
      plugin: "external-trainer",
      config: { serviceUrl: other.url, pollMs: 20 },
    });
    const task = await otherEngine.train("gone", { trainingEpochs: 2 });
    expect(task.state, task.error?.message).toBe("succeeded");
    await other.stop();
    const error = await ExternalModel.loadRemote({ store, pluginInstanceId: "gone" }).catch(
      (e: unknown) => e,
    );
    expect(RemoteError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(
      `Cannot reconnect to the training service at ${other.url}`,
    );
    expect((error as Error).message).toContain("ECONNREFUSED");
    await otherEngine.close();
  });
});
