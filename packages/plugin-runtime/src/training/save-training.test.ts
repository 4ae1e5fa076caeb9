import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CancelledError,
  ConflictError,
  type InvocableResponse,
  TrainableModel,
  type TrainPluginOutput,
} from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CoordinatorScope } from "./coordinator-scope.js";
import type { TrainCallOptions, TrainResponse } from "./create-training-coordinator.js";
import { type SucceededTraining, savedBefore, saveTraining } from "./save-training.js";
import type { TrainRequest } from "./train-request.js";

/** A model whose whole state is one word in `word.txt`. */
class WordModel extends TrainableModel<unknown> {
  word = "";
  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "word.txt"), this.word);
  }
  async loadFromFolder(dir: string): Promise<void> {
    this.word = await readFile(join(dir, "word.txt"), "utf8");
  }
  async train(): Promise<InvocableResponse<TrainPluginOutput>> {
    return { status: { state: "succeeded" } };
  }
}

/** The save a train answer reports, in `status.output`. */
const outputOf = (response: TrainResponse) =>
  (response.status.output ?? {}) as { digest?: string; setAsDefault?: boolean };

const at = new Date("2026-01-02T03:04:05.000Z");
const call = { instance: { id: "inst", config: {} } } as unknown as TrainCallOptions<unknown>;

let store: Awaited<ReturnType<typeof createCheckpointStore>>;
let scope: CoordinatorScope;
beforeEach(async () => {
  store = await createCheckpointStore({
    url: `memory://save-training-${randomUUID()}`,
    workspace: "w",
  });
  scope = { store, cache: false, now: () => at } as unknown as CoordinatorScope;
});
afterEach(() => store.close());

const request = (over: Partial<TrainRequest> = {}): TrainRequest => ({
  data: { pluginInstance: "inst", trainingParams: { words: ["a"] } },
  status: { taskId: "task-1", state: "running" },
  ...over,
});

const succeeded = (data: TrainPluginOutput = { trainingResults: { accuracy: 0.9 } }) =>
  ({
    data,
    status: { taskId: "task-1", state: "succeeded", updatedAt: at.toISOString() },
  }) as TrainResponse;

function training(over: Partial<SucceededTraining> = {}): SucceededTraining {
  const model = new WordModel();
  model.word = "trained";
  return {
    request: request(),
    response: succeeded(),
    model,
    call,
    signal: new AbortController().signal,
    selfSaves: [],
    handle: "h1",
    ...over,
  };
}

describe("saveTraining", () => {
  it("saves the model to its handle, moves default and answers where in status.output", async () => {
    const answer = await saveTraining(scope, training());
    const ref = await store.resolve({ pluginInstanceId: "inst", handle: "h1" });
    expect(answer.status.output).toEqual({
      handle: "h1",
      digest: ref.digest,
      archivePath: ref.archivePath,
      setAsDefault: true,
    });
    expect(answer.data).toEqual({
      trainingResults: { accuracy: 0.9 },
      pluginInstanceId: "inst",
      archivePath: ref.archivePath,
    });
    expect(ref.metadata).toMatchObject({
      trainingTaskId: "task-1",
      trainingResults: { accuracy: 0.9 },
      trainPluginInput: request().data,
    });
    const byDefault = await store.resolve({ pluginInstanceId: "inst", handle: "default" });
    expect(byDefault.digest).toBe(ref.digest);
  });

  it("keeps default where it is when save.setAsDefault is false", async () => {
    const answer = await saveTraining(
      scope,
      training({ request: request({ save: { handle: "h1", setAsDefault: false } }) }),
    );
    expect(outputOf(answer).setAsDefault).toBe(false);
    await expect(
      store.resolve({ pluginInstanceId: "inst", handle: "default" }),
    ).rejects.toMatchObject({ name: "NotFoundError" });
  });

  it("does not save again for a plugin that saved by itself; answers its own save", async () => {
    const answer = await saveTraining(
      scope,
      training({
        response: succeeded({ archivePath: "blobs/x.tar" }),
        selfSaves: [
          { handle: "old", ref: { digest: "d0", archivePath: "blobs/x.tar" }, defaultMoved: false },
          { handle: "mine", ref: { digest: "d1", archivePath: "blobs/x.tar" }, defaultMoved: true },
          {
            handle: "other",
            ref: { digest: "d2", archivePath: "blobs/y.tar" },
            defaultMoved: true,
          },
        ],
      }),
    );
    expect(answer.status.output).toEqual({
      handle: "mine",
      digest: "d1",
      archivePath: "blobs/x.tar",
      setAsDefault: true,
    });
    expect(answer.data?.pluginInstanceId).toBe("inst");
    await expect(store.resolve({ pluginInstanceId: "inst", handle: "h1" })).rejects.toMatchObject({
      name: "NotFoundError",
    });
  });

  it("answers only the archivePath of a self-save made outside its context's store", async () => {
    const answer = await saveTraining(
      scope,
      training({ response: succeeded({ archivePath: "elsewhere.tar" }) }),
    );
    expect(answer.status.output).toEqual({ archivePath: "elsewhere.tar" });
  });

  it("refuses to save once aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await saveTraining(scope, training({ signal: controller.signal })).catch(
      (e: unknown) => e,
    );
    expect(CancelledError.isInstance(error)).toBe(true);
    await expect(store.resolve({ pluginInstanceId: "inst", handle: "h1" })).rejects.toMatchObject({
      name: "NotFoundError",
    });
  });

  it("a create-only save that finds the handle saved by the same task answers that save", async () => {
    const first = await saveTraining(scope, training());
    const createOnly = request({ save: { handle: "h1", createOnly: true } });
    const answer = await saveTraining(scope, training({ request: createOnly }));
    expect(answer.status).toMatchObject({
      taskId: "task-1",
      state: "succeeded",
      finishedAt: at.toISOString(),
      output: { handle: "h1", digest: outputOf(first).digest },
    });
    expect(answer.data?.trainingResults).toEqual({ accuracy: 0.9 });
  });

  it("a create-only save conflicting with another task's checkpoint stands as a ConflictError", async () => {
    await saveTraining(
      scope,
      training({ request: request({ status: { taskId: "task-0", state: "running" } }) }),
    );
    const createOnly = request({ save: { handle: "h1", createOnly: true } });
    const error = await saveTraining(scope, training({ request: createOnly })).catch(
      (e: unknown) => e,
    );
    expect(ConflictError.isInstance(error)).toBe(true);
  });
});

describe("savedBefore", () => {
  const options = (req: TrainRequest, taskId = "task-1") => ({
    request: req,
    taskId,
    call,
    signal: undefined,
  });

  it("finds the checkpoint a repeated call's task saved to its handle", async () => {
    const saved = await saveTraining(scope, training());
    const found = await savedBefore(
      scope,
      options(request({ retry: true, save: { handle: "h1" } })),
    );
    expect(found).toEqual({
      data: {
        pluginInstanceId: "inst",
        archivePath: saved.data?.archivePath,
        trainingResults: { accuracy: 0.9 },
      },
      status: {
        taskId: "task-1",
        state: "succeeded",
        updatedAt: at.toISOString(),
        finishedAt: at.toISOString(),
        statusMessage: "Training succeeded (found its saved checkpoint)",
        output: {
          handle: "h1",
          digest: outputOf(saved).digest,
          archivePath: saved.data?.archivePath,
        },
      },
    });
  });

  it("finds nothing without retry, without a handle, for a missing handle or another task", async () => {
    await saveTraining(scope, training());
    expect(await savedBefore(scope, options(request({ save: { handle: "h1" } })))).toBeUndefined();
    expect(await savedBefore(scope, options(request({ retry: true })))).toBeUndefined();
    expect(
      await savedBefore(scope, options(request({ retry: true, save: { handle: "nope" } }))),
    ).toBeUndefined();
    expect(
      await savedBefore(scope, options(request({ retry: true, save: { handle: "h1" } }), "task-2")),
    ).toBeUndefined();
  });
});
