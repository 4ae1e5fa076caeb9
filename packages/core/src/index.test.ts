/**
 * A plugin author's view: a model written against the package's public exports only.
 * (The fake store in __fixtures__ also imports from "../index.js" only.)
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { FakeCheckpointStore, FakeModelCache } from "./__fixtures__/fake-checkpoint-store.js";
import * as core from "./index.js";
import {
  CancelledError,
  type CheckpointRef,
  DEFAULT_HANDLE,
  type InvocableResponse,
  invocableResponseSchema,
  isFinalTaskState,
  type PluginRequest,
  parseWith,
  pluginRequestSchema,
  type SaveRemoteResult,
  TrainableError,
  TrainableModel,
  type TrainContext,
  TrainingError,
  TrainPluginInput,
  TrainPluginOutput,
  ValidationError,
} from "./index.js";

const SpamConfig = z.object({ threshold: z.number().min(0).max(1) });
type SpamConfig = z.infer<typeof SpamConfig>;

class SpamModel extends TrainableModel<SpamConfig> {
  spamWords: string[] = [];

  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "spam-words.json"), JSON.stringify(this.spamWords));
  }

  async loadFromFolder(dir: string): Promise<void> {
    this.spamWords = JSON.parse(await readFile(join(dir, "spam-words.json"), "utf8")) as string[];
  }

  async train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    CancelledError.throwIfAborted(context.signal, "Training");
    const words = request.data?.trainingParams?.words;
    if (!Array.isArray(words))
      throw new TrainingError("[spam] trainingParams.words must be a list");
    this.spamWords = words.map(String).sort();
    context.postUpdate({ trainingProgress: { fraction: 1 } });
    return {
      data: { trainingResults: { words: this.spamWords.length } },
      status: { state: "succeeded" },
    };
  }

  isSpam(text: string): boolean {
    const words = text.toLowerCase().split(/\W+/);
    const hits = words.filter((w) => this.spamWords.includes(w)).length;
    return hits / Math.max(words.length, 1) >= (this.config?.threshold ?? 0.5);
  }
}

let store: FakeCheckpointStore;
beforeEach(async () => {
  store = await FakeCheckpointStore.create("public");
});
afterEach(async () => {
  await store.destroy();
});

describe("public API", () => {
  it("exports the runtime values plugin authors need", () => {
    const expected = [
      "CancelledError",
      "CheckpointFile",
      "CheckpointMetadata",
      "CheckpointRef",
      "ConflictError",
      "DEFAULT_HANDLE",
      "FINAL_TASK_STATES",
      "HTTP_STATUS_BY_CODE",
      "ID_PATTERN",
      "Id",
      "IntegrityError",
      "JsonObject",
      "NotFoundError",
      "PluginRequestContext",
      "RemoteError",
      "ResponseError",
      "Task",
      "TaskState",
      "TimeoutError",
      "TrainPluginInput",
      "TrainPluginOutput",
      "TrainableError",
      "TrainableModel",
      "TrainingError",
      "TrainingParameterPluginInput",
      "TrainingParameterPluginOutput",
      "ValidationError",
      "formatIssuePath",
      "httpStatusForCode",
      "invocableResponseSchema",
      "isFinalTaskState",
      "isValidId",
      "modelCacheLoadOptions",
      "parseWith",
      "pluginRequestSchema",
      "validateId",
    ];
    for (const name of expected) expect(core, name).toHaveProperty(name);
    expect(DEFAULT_HANDLE).toBe("default");
  });

  it("a model built on the public exports trains, saves, and loads back through a cache", async () => {
    // The engine's train request, parsed at the boundary.
    const body: unknown = {
      data: {
        pluginInstance: "spam-filter",
        trainingEpochs: 1,
        testingHoldoutPercent: 0.2,
        testSplitSeed: 1,
        trainingParams: { words: ["winner", "free", "cash"] },
        inferenceParams: { threshold: 0.3 },
      },
      context: { pluginInstanceHandle: "spam-filter" },
      isStatusCheck: false,
    };
    const request = parseWith(pluginRequestSchema(TrainPluginInput), body, "train request");
    expectTypeOf(request.data).toEqualTypeOf<TrainPluginInput | undefined>();

    const model = new SpamModel();
    const updates: Array<Partial<TrainPluginOutput>> = [];
    const response = await model.train(request, {
      postUpdate: (u) => updates.push(u as Partial<TrainPluginOutput>),
      signal: new AbortController().signal,
      scratchDir: store.root,
    });
    expect(isFinalTaskState(response.status?.state ?? "running")).toBe(true);
    expect(updates).toEqual([{ trainingProgress: { fraction: 1 } }]);

    const saved: SaveRemoteResult = await model.saveRemote({
      store,
      pluginInstanceId: request.data?.pluginInstance ?? "",
      handle: "v1",
      metadata: { trainPluginInput: request.data },
    });
    const output = parseWith(
      invocableResponseSchema(TrainPluginOutput),
      { ...response, data: { ...response.data, archivePath: saved.archivePath } },
      "train response",
    );
    expect(output.data?.archivePath).toBe(saved.ref.archivePath);
    const ref: CheckpointRef = core.CheckpointRef.parse(saved.ref);
    expect(ref.metadata.modelClass).toBe("SpamModel");

    const cache = new FakeModelCache(store);
    const config = parseWith(SpamConfig, { threshold: 0.3 }, "config");
    const loaded = await SpamModel.loadRemote({
      store,
      pluginInstanceId: "spam-filter",
      cache,
      config,
    });
    expectTypeOf(loaded).toEqualTypeOf<SpamModel>();
    expect(loaded).toBeInstanceOf(SpamModel);
    expect(loaded).not.toBe(model);
    expect(loaded.spamWords).toEqual(["cash", "free", "winner"]);
    expect(loaded.config).toEqual({ threshold: 0.3 });
    expect(loaded.isSpam("You are a WINNER: free cash")).toBe(true);
    expect(loaded.isSpam("see you at lunch")).toBe(false);
    expect(cache.loads[0]).toMatchObject({
      kind: "SpamModel",
      modelClass: SpamModel,
      config: { threshold: 0.3 },
    });

    const v1 = await SpamModel.loadRemote({ store, pluginInstanceId: "spam-filter", handle: "v1" });
    expect(v1.spamWords).toEqual(loaded.spamWords);
  });

  it("errors from the public API are recognisable with isInstance", async () => {
    const model = new SpamModel();
    const bad = await model.saveRemote({ store, pluginInstanceId: "../escape" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ValidationError.isInstance(bad)).toBe(true);
    expect(TrainableError.isInstance(bad)).toBe(true);
    expect(core.httpStatusForCode((bad as ValidationError).code)).toBe(400);
    expect(store.calls).toEqual([]);

    const status = await model
      .trainStatus(
        { isStatusCheck: true },
        {
          postUpdate: () => {},
          signal: new AbortController().signal,
          scratchDir: store.root,
        },
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(TrainingError.isInstance(status)).toBe(true);

    const notFound = await SpamModel.loadRemote({ store, pluginInstanceId: "never-saved" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(core.NotFoundError.isInstance(notFound)).toBe(true);
  });

  it("a loaded model keeps working after its temporary folder is gone", async () => {
    const model = new SpamModel();
    model.spamWords = ["prize"];
    await model.saveRemote({ store, pluginInstanceId: "p" });
    const loaded = await SpamModel.loadRemote({ store, pluginInstanceId: "p", cache: false });
    await rm(store.handleDir("p", "default"), { recursive: true });
    expect(loaded.isSpam("prize")).toBe(true);
  });
});
