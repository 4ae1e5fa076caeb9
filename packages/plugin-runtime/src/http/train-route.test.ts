import { RemoteError } from "@trainable/core";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { createTaskHost } from "../hosted/create-task-host.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { TrainRequest } from "../training/train-request.js";
import { createFailResponse, mountErrorHandlers } from "./app-errors.js";
import { createBodyLimits } from "./body-limit.js";
import { createIssuedTaskTable } from "./issued-tasks.js";
import { settleIssuedTask } from "./settle-issued-task.js";
import { mountTrainRoutes } from "./train-route.js";

interface TrainCall {
  request: TrainRequest;
  prevalidated: boolean;
  signal?: AbortSignal;
}

type TrainOptions = {
  prevalidated: boolean;
  signal?: AbortSignal;
  onUpdate?: (u: object) => void;
};

/**
 * A plugin app's training routes over a fake client whose `train` is `answer`, with the real
 * task host and issued-task table (as createPluginApp wires them).
 */
function appTraining(
  answer: (request: TrainRequest, options: TrainOptions) => Promise<TrainResponse>,
  { trainable = true, answerWithinMs = 10_000 } = {},
) {
  const calls: TrainCall[] = [];
  const client = {
    name: "demo",
    trainable,
    schemas: {
      train: TrainRequest,
      trainingParameters: z.object({ data: z.object({ epochs: z.number() }) }),
    },
    train: (request: TrainRequest, options: TrainOptions) => {
      calls.push({ request, prevalidated: options.prevalidated, signal: options.signal });
      return answer(request, options);
    },
    getTrainingParameters: async (request: { data: { epochs: number } }) => ({
      trainingParams: { epochs: request.data.epochs * 2 },
    }),
  } as unknown as LocalPluginClient;
  const tasks = createIssuedTaskTable({});
  const host = trainable
    ? createTaskHost({
        client,
        answerWithinMs,
        onSettled: (task, error) =>
          settleIssuedTask(tasks, {
            taskId: task.taskId,
            instanceId: task.instanceId,
            response: task.response,
            error,
            interrupted: task.state === "cancelled",
          }),
      })
    : undefined;
  const app = new Hono();
  const fail = createFailResponse({ error: () => {} }, "demo");
  mountErrorHandlers(app, fail);
  const { limitBody } = createBodyLimits(64 * 1024);
  mountTrainRoutes(app, { client, host, tasks, limitBody, fail });
  return { app, calls, tasks };
}

const post = (app: Hono, path: string, body: unknown) => {
  const text = JSON.stringify(body);
  return app.request(path, {
    method: "POST",
    body: text,
    headers: { "content-type": "application/json", "content-length": String(text.length) },
  });
};

const data = { pluginInstance: "inst" };
const succeeded = (taskId: string): TrainResponse => ({
  data: { archivePath: "a.tar" },
  status: { taskId, state: "succeeded" },
});

describe("POST /getTrainingParameters", () => {
  it("answers the client's parameters as { data, status }; 400 for a bad body", async () => {
    const { app } = appTraining(async () => succeeded("x"));
    const res = await post(app, "/getTrainingParameters", { data: { epochs: 3 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      data: { trainingParams: { epochs: 6 } },
      status: { state: "succeeded" },
    });
    const bad = await post(app, "/getTrainingParameters", { data: { epochs: "three" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("VALIDATION");
  });
});

describe("POST /train", () => {
  it("a plugin that is not trainable answers the client's train directly", async () => {
    const { app, calls } = appTraining(async () => succeeded("given"), { trainable: false });
    const res = await post(app, "/train", { data });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(succeeded("given"));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.prevalidated).toBe(true);
  });

  it("a training answered in time is 200 with its answer and updates; the task is ended", async () => {
    const { app, calls, tasks } = appTraining(async (request, options) => {
      options.onUpdate?.({ statusMessage: "epoch 1" });
      return succeeded(request.status?.taskId ?? "?");
    });
    const res = await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as TrainResponse & { updates: object[] };
    expect(body.status).toEqual({ taskId: "t1", state: "succeeded" });
    expect(body.updates).toEqual([{ statusMessage: "epoch 1" }]);
    expect(calls[0]?.request.status).toMatchObject({ taskId: "t1", state: "waiting" });
    expect((await tasks.get("t1"))?.endedAt).toBeDefined();
  });

  it("gives a new training a task id, its state defaulting to waiting", async () => {
    const { app, calls } = appTraining(async (request) => succeeded(request.status?.taskId ?? "?"));
    const res = await post(app, "/train", { data });
    const body = (await res.json()) as TrainResponse;
    expect(body.status.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[0]?.request.status).toEqual({ taskId: body.status.taskId, state: "waiting" });
  });

  it("a training still going is 202 with the hosted task, then checked from the host", async () => {
    let finish: (r: TrainResponse) => void = () => {};
    const { app, calls, tasks } = appTraining(
      () =>
        new Promise<TrainResponse>((resolve) => {
          finish = resolve;
        }),
      { answerWithinMs: 0 },
    );
    const res = await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    expect(res.status).toBe(202);
    const started = (await res.json()) as { status: { state: string; taskId: string } };
    expect(started.status).toMatchObject({ taskId: "t1", state: "running" });
    expect((await tasks.get("t1"))?.issued).toHaveLength(1);

    const check = {
      data,
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { hostedTask: "t1" } },
    };
    expect((await post(app, "/train", check)).status).toBe(202);
    finish(succeeded("t1"));
    // The host records the answer a few ticks later: check until it has (bounded).
    let done = await post(app, "/train", check);
    for (let i = 0; i < 100 && done.status === 202; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      done = await post(app, "/train", check);
    }
    expect(done.status).toBe(200);
    expect(((await done.json()) as TrainResponse).status.state).toBe("succeeded");
    // Both checks were answered from the host: the plugin was called once.
    expect(calls).toHaveLength(1);
  });

  it("refuses a second training with the same task id (409), without calling the plugin", async () => {
    const { app, calls } = appTraining(async () => ({
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } },
    }));
    expect(
      (await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } })).status,
    ).toBe(200);
    const again = await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    expect(again.status).toBe(409);
    expect(calls).toHaveLength(1);
  });

  it("a status check of the plugin's own job calls its trainStatus with the answered status", async () => {
    let checks = 0;
    const { app, calls, tasks } = appTraining(async (request, options) => {
      if (!request.isStatusCheck) {
        return { status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } } };
      }
      checks++;
      options.onUpdate?.({ statusMessage: `check ${checks}` });
      return checks === 1
        ? { status: { taskId: "t1", state: "running", remoteStatusInput: { job: 2 } } }
        : succeeded("t1");
    });
    await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    const check = (job: number) => ({
      data,
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { job } },
    });
    const first = await post(app, "/train", check(1));
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({
      status: { state: "running", remoteStatusInput: { job: 2 } },
      updates: [{ statusMessage: "check 1" }],
    });
    expect(calls[1]?.signal).toBeInstanceOf(AbortSignal);
    // The new remoteStatusInput was recorded as issued: checking with it is allowed.
    const second = await post(app, "/train", check(2));
    expect(((await second.json()) as TrainResponse).status.state).toBe("succeeded");
    expect((await tasks.get("t1"))?.endedAt).toBeDefined();
  });

  it("refuses a status check of a task this server did not start, or with an unissued input (404)", async () => {
    const { app, calls } = appTraining(async () => ({
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } },
    }));
    const unknown = await post(app, "/train", {
      data,
      isStatusCheck: true,
      status: { taskId: "nope", state: "running" },
    });
    expect(unknown.status).toBe(404);
    await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    const forged = await post(app, "/train", {
      data,
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: 99 } },
    });
    expect(forged.status).toBe(404);
    const otherInstance = await post(app, "/train", {
      data: { pluginInstance: "other" },
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } },
    });
    expect(otherInstance.status).toBe(404);
    expect(calls).toHaveLength(1);
  });

  it("a status check that fails answers the error; a retryable one keeps the task checkable", async () => {
    let fail: unknown;
    const { app, tasks } = appTraining(async (request) => {
      if (request.isStatusCheck) throw fail;
      return { status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } } };
    });
    await post(app, "/train", { data, status: { taskId: "t1", state: "waiting" } });
    const check = {
      data,
      isStatusCheck: true,
      status: { taskId: "t1", state: "running", remoteStatusInput: { job: 1 } },
    };
    fail = new RemoteError("[test] job service down", { retryable: true, status: 503 });
    const transient = await post(app, "/train", check);
    expect(transient.status).toBeGreaterThanOrEqual(500);
    const body = (await transient.json()) as {
      error: { code: string };
      status: { taskId: string };
    };
    expect(body.error.code).toBe("REMOTE");
    expect(body.status.taskId).toBe("t1");
    expect((await tasks.get("t1"))?.endedAt).toBeUndefined();
    fail = new Error("plugin bug");
    expect((await post(app, "/train", check)).status).toBe(500);
    expect((await tasks.get("t1"))?.endedAt).toBeDefined();
  });
});
