import { getEventListeners } from "node:events";
import { RemoteError, TrainingError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { followHostedTask } from "./follow-hosted-task.js";
import type { PluginServerConnection } from "./plugin-server-connection.js";

const sse = (events: string[]) =>
  new Response(events.join(""), { headers: { "content-type": "text/event-stream" } });
const event = (id: number, type: string, data: object) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const finished = (id: number, task: object) =>
  event(id, "finished", { id, type: "finished", task });

function server(answers: Array<() => Response>, asked: string[]): PluginServerConnection {
  return {
    root: "http://x.test/",
    display: "http://x.test",
    headers: {},
    timeoutMs: 1000,
    fetch: (async (_url: URL, init: RequestInit) => {
      asked.push((init.headers as Record<string, string>)["last-event-id"] as string);
      const next = answers.shift();
      if (!next) throw new Error("no more answers");
      return next();
    }) as typeof fetch,
  };
}

const response = { status: { taskId: "t1", state: "succeeded" } };

describe("followHostedTask", () => {
  it("relays updates and returns the call's answer, reopening an ended stream from the last event", async () => {
    const asked: string[] = [];
    const updates: unknown[] = [];
    const answer = await followHostedTask(
      server(
        [
          () => sse([event(1, "update", { update: { statusMessage: "one" } })]),
          () =>
            sse([
              event(2, "update", { update: { statusMessage: "two" } }),
              finished(3, { response }),
            ]),
        ],
        asked,
      ),
      { taskId: "t1", reconnectForMs: 10_000, onUpdate: (u) => updates.push(u) },
    );
    expect(answer).toEqual(response);
    expect(updates).toEqual([{ statusMessage: "one" }, { statusMessage: "two" }]);
    expect(asked).toEqual(["0", "1"]);
  });

  it("throws the typed error the call ended with", async () => {
    const task = { error: { code: "TRAINING", message: "[x] diverged" } };
    const follow = followHostedTask(server([() => sse([finished(1, task)])], []), {
      taskId: "t1",
      reconnectForMs: 10_000,
    });
    await expect(follow).rejects.toSatisfy(TrainingError.isInstance);
  });

  it("a task the server no longer knows is a retryable RemoteError", async () => {
    const gone = () =>
      Response.json({ error: { code: "NOT_FOUND", message: "[x] no task" } }, { status: 404 });
    const error = (await followHostedTask(server([gone], []), {
      taskId: "t1",
      reconnectForMs: 10_000,
    }).catch((e: unknown) => e)) as RemoteError;
    expect(RemoteError.isInstance(error) && error.retryable).toBe(true);
    expect(error.message).toContain("lost training task t1 (did it restart?)");
  });

  it("gives up after reconnectForMs of failures", async () => {
    const following = followHostedTask(server([], []), { taskId: "t1", reconnectForMs: 0 });
    const error = (await following.catch((e: unknown) => e)) as RemoteError;
    // The first failure starts the clock; the next one is past it.
    expect(error.message).toContain("stayed unreachable for 0 ms while following training task t1");
  });

  it("leaves no abort listener on a long-lived signal after each reconnect wait", async () => {
    const signal = new AbortController().signal;
    const listeners: number[] = [];
    const down = () => {
      listeners.push(getEventListeners(signal, "abort").length);
      throw new TypeError("fetch failed");
    };
    const answer = await followHostedTask(
      server(
        [
          down,
          down,
          () => {
            listeners.push(getEventListeners(signal, "abort").length);
            return sse([finished(1, { response })]);
          },
        ],
        [],
      ),
      { taskId: "t1", reconnectForMs: 60_000, signal },
    );
    expect(answer).toEqual(response);
    // One wait per failure; each one's listener is gone once the wait ends.
    expect(listeners).toEqual([0, 0, 0]);
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
  });
});
