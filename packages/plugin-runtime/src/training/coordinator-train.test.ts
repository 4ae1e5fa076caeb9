import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  ConflictError,
  type InvocableResponse,
  NotFoundError,
  type PluginRequest,
  RemoteError,
  TrainableModel,
  type TrainContext,
  type TrainPluginInput,
  type TrainPluginOutput,
  ValidationError,
} from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import type { CoordinatorScope } from "./coordinator-scope.js";
import { coordinatorTrain } from "./coordinator-train.js";
import type { TrainCallOptions, TrainResponse } from "./create-training-coordinator.js";
import { createLiveTrainings } from "./live-trainings.js";
import type { TrainRequest } from "./train-request.js";
import { readState } from "./training-state.js";

type Answer = InvocableResponse<TrainPluginOutput>;
type Step = (
  model: JobModel,
  request: PluginRequest<TrainPluginInput>,
  context: TrainContext,
) => Promise<Answer>;

/** What the next `train` / `trainStatus` calls answer, and the calls made. */
let trainStep: Step;
let statusStep: Step;
let calls: { what: string; model: JobModel; request: PluginRequest<TrainPluginInput> }[];

/** An external-job model: its state is the number of status checks it has seen. */
class JobModel extends TrainableModel<unknown> {
  checks = 0;
  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "checks.txt"), String(this.checks));
  }
  async loadFromFolder(dir: string): Promise<void> {
    this.checks = Number(await readFile(join(dir, "checks.txt"), "utf8"));
  }
  async train(request: PluginRequest<TrainPluginInput>, context: TrainContext) {
    calls.push({ what: "train", model: this, request });
    return trainStep(this, request, context);
  }
  override async trainStatus(request: PluginRequest<TrainPluginInput>, context: TrainContext) {
    calls.push({ what: "trainStatus", model: this, request });
    this.checks++;
    return statusStep(this, request, context);
  }
}

/** A synchronous model: no trainStatus of its own. */
class SyncModel extends TrainableModel<unknown> {
  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "m.txt"), "m");
  }
  async loadFromFolder(): Promise<void> {}
  async train(): Promise<Answer> {
    return { status: { state: "succeeded" } };
  }
}

function fakeService(modelClass: typeof JobModel | typeof SyncModel): AnyTrainablePluginService {
  const sync = modelClass === SyncModel;
  return {
    pluginName: "fake-plugin",
    modelClass,
    createModel: () => new modelClass(),
    train: (request: TrainRequest, model: TrainableModel<unknown>, context: TrainContext) =>
      model.train(request, context),
    trainStatus: sync
      ? TrainablePluginService.prototype.trainStatus
      : (request: TrainRequest, model: TrainableModel<unknown>, context: TrainContext) =>
          model.trainStatus(request, context),
  } as unknown as AnyTrainablePluginService;
}

/** The save a train answer reports, in `status.output`. */
const outputOf = (response: TrainResponse) =>
  (response.status.output ?? {}) as { digest?: string; setAsDefault?: boolean };

const at = new Date("2026-01-02T03:04:05.000Z");
const call = { instance: { id: "inst", config: {} } } as unknown as TrainCallOptions<unknown>;

let root: string;
let store: Awaited<ReturnType<typeof createCheckpointStore>>;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "coordinator-train-"));
  store = await createCheckpointStore({ url: `memory://ct-${randomUUID()}`, workspace: "w" });
  calls = [];
  trainStep = async () => ({ data: { trainingResults: { n: 1 } }, status: { state: "succeeded" } });
  statusStep = async () => ({ status: { state: "running" } });
});
afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function makeScope(modelClass: typeof JobModel | typeof SyncModel = JobModel): CoordinatorScope {
  const service = fakeService(modelClass);
  return {
    service,
    store,
    cache: false,
    now: () => at,
    live: createLiveTrainings({
      service,
      maxLive: 10,
      scratchRoot: root,
      stateRoot: join(root, "state"),
    }),
  };
}

const request = (over: Partial<TrainRequest> = {}): TrainRequest => ({
  data: { pluginInstance: "inst" },
  ...over,
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error,
  );
}

describe("coordinatorTrain: checks the request", () => {
  it("requires data, the call's own instance, and a task id for a status check", async () => {
    const scope = makeScope();
    let error = await refusal(coordinatorTrain(scope, {} as TrainRequest, call));
    expect(ValidationError.isInstance(error) && error.issues[0]?.path).toBe("data");
    error = await refusal(
      coordinatorTrain(scope, request({ data: { pluginInstance: "other" } }), call),
    );
    expect(ValidationError.isInstance(error) && error.issues[0]?.path).toBe("data.pluginInstance");
    error = await refusal(coordinatorTrain(scope, request({ isStatusCheck: true }), call));
    expect(ValidationError.isInstance(error) && error.issues[0]?.path).toBe("status.taskId");
    error = await refusal(
      coordinatorTrain(scope, request({ status: { taskId: "../bad", state: "running" } }), call),
    );
    expect(ValidationError.isInstance(error)).toBe(true);
    expect(calls).toEqual([]);
  });
});

describe("coordinatorTrain: train", () => {
  it("a succeeded training is saved to the asked handle and forgotten", async () => {
    const scope = makeScope();
    const answer = await coordinatorTrain(scope, request({ save: { handle: "v1" } }), call);
    const taskId = answer.status.taskId ?? "";
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.status).toMatchObject({
      state: "succeeded",
      startedAt: at.toISOString(),
      finishedAt: at.toISOString(),
      output: { handle: "v1", setAsDefault: true },
    });
    const ref = await store.resolve({ pluginInstanceId: "inst", handle: "v1" });
    expect(outputOf(answer).digest).toBe(ref.digest);
    expect(ref.metadata.trainingResults).toEqual({ n: 1 });
    expect(scope.live.has(taskId)).toBe(false);
    expect(await exists(scope.live.scratchDirOf(taskId))).toBe(false);
  });

  it("gives the plugin a scratch folder that exists during train", async () => {
    const scope = makeScope();
    let scratchExisted = false;
    trainStep = async (_m, _r, context) => {
      scratchExisted = await exists(context.scratchDir);
      return { status: { state: "succeeded" } };
    };
    await coordinatorTrain(scope, request(), call);
    expect(scratchExisted).toBe(true);
  });

  it("a running answer keeps the model in memory and its state on disk", async () => {
    const scope = makeScope();
    trainStep = async (model) => {
      model.checks = 7;
      return { status: { state: "running", remoteStatusInput: { job: "j1" } } };
    };
    const answer = await coordinatorTrain(
      scope,
      request({ status: { taskId: "t1", state: "waiting" } }),
      call,
    );
    expect(answer.status).toMatchObject({ taskId: "t1", state: "running" });
    expect(answer.status.finishedAt).toBeUndefined();
    expect(scope.live.has("t1")).toBe(true);
    expect(scope.live.get("t1")?.status?.state).toBe("running");
    const kept = await readState(join(root, "state", "t1"));
    expect(kept?.status).toMatchObject({ taskId: "t1", state: "running" });
    expect(await readFile(join(kept?.modelDir ?? "", "checks.txt"), "utf8")).toBe("7");
  });

  it("a status check continues with the kept model, then saves and forgets it", async () => {
    const scope = makeScope();
    trainStep = async () => ({ status: { state: "running" } });
    const first = await coordinatorTrain(scope, request(), call);
    const taskId = first.status.taskId ?? "";
    const check = request({ isStatusCheck: true, status: first.status, save: { handle: "v2" } });
    const running = await coordinatorTrain(scope, check, call);
    expect(running.status.state).toBe("running");
    statusStep = async () => ({ status: { state: "succeeded" } });
    const done = await coordinatorTrain(scope, check, call);
    expect(calls.map((c) => c.what)).toEqual(["train", "trainStatus", "trainStatus"]);
    expect(new Set(calls.map((c) => c.model)).size).toBe(1);
    expect(done.status).toMatchObject({ state: "succeeded", output: { handle: "v2" } });
    expect(await store.resolve({ pluginInstanceId: "inst", handle: "v2" })).toBeDefined();
    expect(scope.live.has(taskId)).toBe(false);
    expect(await exists(join(root, "state", taskId))).toBe(false);
  });

  it("a status check after a restart rebuilds the model from its kept state", async () => {
    trainStep = async (model) => {
      model.checks = 41;
      return { status: { state: "running" } };
    };
    const first = await coordinatorTrain(makeScope(), request(), call);
    const restarted = makeScope();
    statusStep = async (model) => ({
      data: { trainingResults: { checks: model.checks } },
      status: { state: "succeeded" },
    });
    const done = await coordinatorTrain(
      restarted,
      request({ isStatusCheck: true, status: first.status }),
      call,
    );
    expect(done.data?.trainingResults).toEqual({ checks: 42 });
  });

  it("a failed answer is answered as failed and forgets the model", async () => {
    const scope = makeScope();
    trainStep = async () => ({ error: { code: "TRAINING", message: "diverged" } }) as Answer;
    const answer = await coordinatorTrain(
      scope,
      request({ status: { taskId: "t1", state: "waiting" } }),
      call,
    );
    expect(answer.status).toMatchObject({
      taskId: "t1",
      state: "failed",
      statusMessage: "diverged",
    });
    expect(scope.live.has("t1")).toBe(false);
    await expect(store.resolve({ pluginInstanceId: "inst", handle: "default" })).rejects.toSatisfy(
      (e: unknown) => NotFoundError.isInstance(e),
    );
  });

  it("a throwing train forgets the model and its state, and the error stands", async () => {
    const scope = makeScope();
    trainStep = async () => ({ status: { state: "running" } });
    await coordinatorTrain(scope, request({ status: { taskId: "t1", state: "waiting" } }), call);
    statusStep = async () => {
      throw new Error("boom");
    };
    const error = await refusal(
      coordinatorTrain(
        scope,
        request({ isStatusCheck: true, status: { taskId: "t1", state: "running" } }),
        call,
      ),
    );
    expect((error as Error).message).toBe("boom");
    expect(scope.live.has("t1")).toBe(false);
    expect(await exists(join(root, "state", "t1"))).toBe(false);
  });

  it("a status check failing transiently keeps the model for a later retry", async () => {
    const scope = makeScope();
    trainStep = async () => ({ status: { state: "running" } });
    await coordinatorTrain(scope, request({ status: { taskId: "t1", state: "waiting" } }), call);
    statusStep = async () => {
      throw new RemoteError("job service down", { retryable: true });
    };
    const error = await refusal(
      coordinatorTrain(
        scope,
        request({ isStatusCheck: true, status: { taskId: "t1", state: "running" } }),
        call,
      ),
    );
    expect(RemoteError.isInstance(error)).toBe(true);
    expect(scope.live.has("t1")).toBe(true);
    expect(await exists(join(root, "state", "t1"))).toBe(true);
  });

  it("an aborted call rejects with a CancelledError even when the plugin ignores the signal", async () => {
    const scope = makeScope();
    const controller = new AbortController();
    trainStep = () => {
      controller.abort();
      return new Promise<Answer>(() => {});
    };
    const error = await refusal(
      coordinatorTrain(scope, request({ status: { taskId: "t1", state: "waiting" } }), {
        ...call,
        signal: controller.signal,
      }),
    );
    expect(CancelledError.isInstance(error)).toBe(true);
    expect(scope.live.has("t1")).toBe(false);
  });
});

describe("coordinatorTrain: task ids that already exist", () => {
  it("refuses a caller-chosen id that would take over a live training (ConflictError)", async () => {
    const scope = makeScope();
    trainStep = async () => ({ status: { state: "running" } });
    await coordinatorTrain(scope, request({ status: { taskId: "t1", state: "waiting" } }), call);
    const error = await refusal(
      coordinatorTrain(scope, request({ status: { taskId: "t1", state: "waiting" } }), call),
    );
    expect(ConflictError.isInstance(error)).toBe(true);
    expect(calls.map((c) => c.what)).toEqual(["train"]);
    expect(scope.live.has("t1")).toBe(true);
  });

  it("a status check of a task a synchronous plugin never left running is a NotFoundError", async () => {
    const scope = makeScope(SyncModel);
    const error = await refusal(
      coordinatorTrain(
        scope,
        request({ isStatusCheck: true, status: { taskId: "nope", state: "running" } }),
        call,
      ),
    );
    expect(NotFoundError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/fake-plugin trains synchronously/);
  });

  it("a retry reattaches to a kept training: trainStatus with its last status, no second train", async () => {
    trainStep = async () => ({ status: { state: "running", remoteStatusInput: { job: "j9" } } });
    await coordinatorTrain(
      makeScope(),
      request({ status: { taskId: "t1", state: "waiting" } }),
      call,
    );
    statusStep = async () => ({ status: { state: "succeeded" } });
    const restarted = makeScope();
    const done = await coordinatorTrain(
      restarted,
      request({ retry: true, status: { taskId: "t1", state: "waiting" } }),
      call,
    );
    expect(calls.map((c) => c.what)).toEqual(["train", "trainStatus"]);
    expect(calls[1]?.request).toMatchObject({
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: "j9" } },
    });
    expect(done.status.state).toBe("succeeded");
  });

  it("a retry of a training that already saved answers that save without training", async () => {
    const scope = makeScope();
    const first = await coordinatorTrain(
      scope,
      request({ status: { taskId: "t1", state: "waiting" }, save: { handle: "v1" } }),
      call,
    );
    const again = await coordinatorTrain(
      scope,
      request({ retry: true, status: { taskId: "t1", state: "waiting" }, save: { handle: "v1" } }),
      call,
    );
    expect(calls.map((c) => c.what)).toEqual(["train"]);
    expect(again.status).toMatchObject({
      taskId: "t1",
      state: "succeeded",
      output: { handle: "v1", digest: outputOf(first).digest },
    });
  });
});
