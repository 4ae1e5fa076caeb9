import {
  CancelledError,
  ConflictError,
  NotFoundError,
  TrainingError,
  validateId,
} from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { createTaskHost, type HostedTask } from "./create-task-host.js";

const ids = { taskId: validateId("t1", "id"), instanceId: validateId("i1", "id") };
const request = { context: { pluginInstanceId: "i1" }, data: {} } as unknown as TrainRequest;

/** A client whose `train` answers when `finish` is called (or fails, or waits for a cancel). */
function fakeClient() {
  let finish: (response: TrainResponse) => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const cancels: TrainRequest[] = [];
  const client = {
    train: (req: TrainRequest, options: { signal?: AbortSignal; onUpdate?: (u: object) => void }) =>
      new Promise<TrainResponse>((resolve, reject) => {
        finish = resolve;
        fail = reject;
        options.onUpdate?.({ statusMessage: "step 1", output: { trainingProgress: { step: 1 } } });
        options.signal?.addEventListener("abort", () =>
          reject(new CancelledError("[test] cancelled")),
        );
        void req;
      }),
    cancelTraining: async (req: TrainRequest) => {
      cancels.push(req);
      return { status: { taskId: "t1", state: "cancelled" } } as TrainResponse;
    },
  } as unknown as LocalPluginClient;
  return {
    client,
    cancels,
    finish: (r: TrainResponse) => finish(r),
    fail: (e: unknown) => fail(e),
  };
}

const succeeded = { status: { taskId: "t1", state: "succeeded" } } as TrainResponse;

describe("createTaskHost", () => {
  it("answers within answerWithinMs with the running task, then records the call's answer", async () => {
    const fake = fakeClient();
    const settled: HostedTask[] = [];
    const host = createTaskHost({
      client: fake.client,
      answerWithinMs: 5,
      onSettled: (task) => {
        settled.push(task);
      },
    });
    const task = await host.start(request, ids);
    expect(task).toMatchObject({ taskId: "t1", instanceId: "i1", state: "running" });
    expect(task.progress).toEqual({ step: 1 });
    expect(host.updates("t1")).toEqual([
      { statusMessage: "step 1", output: { trainingProgress: { step: 1 } } },
    ]);
    fake.finish(succeeded);
    const events = [];
    for await (const event of host.events("t1", 0)) events.push(event.type);
    expect(events).toEqual(["update", "finished"]);
    expect(host.get("t1")?.state).toBe("succeeded");
    expect(settled.map((t) => t.state)).toEqual(["succeeded"]);
  });

  it("refuses a second start without retry; a retry attaches to the same call", async () => {
    const fake = fakeClient();
    const host = createTaskHost({ client: fake.client, answerWithinMs: 5 });
    await host.start(request, ids);
    await expect(host.start(request, ids)).rejects.toSatisfy(ConflictError.isInstance);
    fake.finish(succeeded);
    const again = await host.start({ ...request, retry: true } as TrainRequest, ids);
    expect(again.state).toBe("succeeded");
  });

  it("a failed call is a failed task with the error's body", async () => {
    const fake = fakeClient();
    const host = createTaskHost({ client: fake.client, answerWithinMs: 5 });
    await host.start(request, ids);
    fake.fail(new TrainingError("[test] diverged"));
    for await (const _event of host.events("t1", 0)) {
      // until finished
    }
    expect(host.get("t1")).toMatchObject({
      state: "failed",
      statusMessage: "[test] diverged",
      error: { code: "TRAINING", message: "[test] diverged" },
    });
    const task = await host.start({ ...request, retry: true } as TrainRequest, ids);
    // A failed call is repeated by a retry: a new call, running again.
    expect(task.state).toBe("running");
    expect(task.lastEventId).toBe(1);
  });

  it("cancel stops the call and the plugin's job", async () => {
    const fake = fakeClient();
    const host = createTaskHost({ client: fake.client, answerWithinMs: 5 });
    await host.start(request, ids);
    const task = await host.cancel("t1");
    expect(task.state).toBe("cancelled");
    expect(fake.cancels).toHaveLength(1);
    expect(fake.cancels[0]?.status?.taskId).toBe("t1");
  });

  it("an unknown task is not found", async () => {
    const host = createTaskHost({ client: fakeClient().client });
    expect(host.get("nope")).toBeUndefined();
    await expect(host.cancel("nope")).rejects.toSatisfy(NotFoundError.isInstance);
    await expect(host.events("nope", 0).next()).rejects.toSatisfy(NotFoundError.isInstance);
  });

  it("forgets the oldest finished tasks beyond maxFinishedTasks", async () => {
    const fake = fakeClient();
    const host = createTaskHost({ client: fake.client, answerWithinMs: 5, maxFinishedTasks: 1 });
    await host.start(request, ids);
    fake.finish(succeeded);
    await host.start(request, { ...ids, taskId: validateId("t2", "id") });
    fake.finish(succeeded);
    await host.start({ ...request, retry: true } as TrainRequest, {
      ...ids,
      taskId: validateId("t2", "id"),
    });
    expect(host.get("t1")).toBeUndefined();
    expect(host.get("t2")?.state).toBe("succeeded");
  });
});
