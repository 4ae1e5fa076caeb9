import { setTimeout as delay } from "node:timers/promises";
import {
  httpStatusForCode,
  NotFoundError,
  type PostUpdate,
  RemoteError,
  TrainableError,
} from "@trainable/core";
import type { HostedTask } from "../hosted/create-task-host.js";
import { errorFromBody } from "../http/error-from-body.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { PluginServerConnection } from "./plugin-server-connection.js";
import { readEvents } from "./read-events.js";
import { parseTrainResponse } from "./train-response-body.js";

export interface FollowOptions {
  /** The hosted task's id (from the server's 202 answer). */
  taskId: string;
  signal?: AbortSignal;
  onUpdate?: (update: PostUpdate) => void;
  /** How long the stream may stay unreachable before a retryable `RemoteError`. */
  reconnectForMs: number;
}

/**
 * Follows a training hosted by the server through its event stream until its `train` call
 * ends: post-updates are relayed as they come, a dropped or ended stream is reopened from
 * the last event seen (`Last-Event-ID`), with backoff, for up to `reconnectForMs`.
 */
export async function followHostedTask(
  server: PluginServerConnection,
  options: FollowOptions,
): Promise<TrainResponse> {
  const { taskId, signal, reconnectForMs } = options;
  const { display } = server;
  const url = new URL(`tasks/${encodeURIComponent(taskId)}/events`, server.root);
  let last = 0;
  let failingSince: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await server.fetch(url, {
        headers: { accept: "text/event-stream", "last-event-id": String(last), ...server.headers },
        signal,
      });
      if (!response.ok || response.body === null) {
        const text = await response.text().catch(() => "");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        throw errorFromBody(response.status, parsed, `${display}/tasks/${taskId}/events`);
      }
      for await (const event of readEvents(response.body)) {
        failingSince = undefined;
        if (event.id !== undefined) last = Number(event.id);
        if (event.event === "update") {
          const { update } = JSON.parse(event.data) as { update: PostUpdate };
          options.onUpdate?.(update);
        } else if (event.event === "finished") {
          const { task } = JSON.parse(event.data) as { task: HostedTask };
          if (task.error) {
            throw errorFromBody(
              httpStatusForCode(task.error.code),
              { error: task.error },
              `${display}/train`,
            );
          }
          return parseTrainResponse(task.response, "train", display) as TrainResponse;
        }
      }
      // The server ends each stream after a while: reopen it from the last event.
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      if (NotFoundError.isInstance(error)) {
        // The server no longer knows the task (it restarted): the training's call is lost.
        throw new RemoteError(
          `[runtime] Plugin server ${display} lost training task ${taskId} (did it restart?): repeat the train call`,
          { retryable: true, cause: error },
        );
      }
      const transient =
        !TrainableError.isInstance(error) || (RemoteError.isInstance(error) && error.retryable);
      if (!transient) throw error;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > reconnectForMs) {
        throw new RemoteError(
          `[runtime] Plugin server ${display} stayed unreachable for ${reconnectForMs} ms while following training task ${taskId}`,
          { retryable: true, cause: error },
        );
      }
      await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)), signal);
    }
  }
}

/**
 * Waits `ms`, or less when `signal` aborts; the wait's abort listener is removed when it ends
 * (one signal follows a training for hours, through many reconnects).
 */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => {});
}
