import { CancelledError, RemoteError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import type { HostedTask } from "./create-task-host.js";
import type { HostedEntry } from "./hosted-entry.js";
import { runHostedCall } from "./run-hosted-call.js";

function newEntry(): HostedEntry {
  return {
    task: {
      taskId: "t1",
      instanceId: "i1",
      state: "running",
      startedAt: "",
      updatedAt: "",
      lastEventId: 0,
    } as HostedTask,
    request: {} as TrainRequest,
    events: [],
    controller: new AbortController(),
    done: Promise.resolve(),
    listeners: new Set(),
  };
}

const clientAnswering = (train: LocalPluginClient["train"]) => ({ train }) as LocalPluginClient;

async function run(client: LocalPluginClient, onSettled?: () => never) {
  const entry = newEntry();
  const order: string[] = [];
  await runHostedCall(entry, {
    client,
    now: () => new Date(0),
    maxEvents: 10,
    onSettled: (task, error) => {
      order.push(`settled ${task.state} ${error === undefined ? "" : "error"}`.trim());
      onSettled?.();
    },
    onFinished: () => order.push("finished"),
  });
  return { entry, order };
}

describe("runHostedCall", () => {
  it("records updates and the answer, settles, then sends finished", async () => {
    const { entry, order } = await run(
      clientAnswering(async (_request, options) => {
        options?.onUpdate?.({ statusMessage: "half", output: { trainingProgress: { p: 0.5 } } });
        return {
          status: { taskId: "t1", state: "succeeded", statusMessage: "done" },
        } as TrainResponse;
      }),
    );
    expect(entry.task).toMatchObject({
      state: "succeeded",
      statusMessage: "done",
      progress: { p: 0.5 },
    });
    expect(entry.events.map((e) => e.type)).toEqual(["update", "finished"]);
    expect(order).toEqual(["settled succeeded", "finished"]);
  });

  it("a cancelled call is a cancelled task; any other error a failed one", async () => {
    const cancelled = await run(
      clientAnswering(async () => {
        throw new CancelledError("[test] stop");
      }),
    );
    expect(cancelled.entry.task).toMatchObject({
      state: "cancelled",
      error: { code: "CANCELLED" },
    });
    const failed = await run(
      clientAnswering(async () => {
        throw new RemoteError("[test] down", { retryable: true });
      }),
    );
    expect(failed.entry.task.state).toBe("failed");
    expect(failed.entry.error).toBeInstanceOf(RemoteError);
    expect(failed.order).toEqual(["settled failed error", "finished"]);
  });

  it("never rejects, even when onSettled throws", async () => {
    const { order } = await run(
      clientAnswering(
        async () => ({ status: { taskId: "t1", state: "succeeded" } }) as TrainResponse,
      ),
      () => {
        throw new Error("boom");
      },
    );
    expect(order).toEqual(["settled succeeded", "finished"]);
  });
});
