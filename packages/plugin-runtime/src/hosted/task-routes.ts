import { httpStatusForCode, isFinalTaskState, NotFoundError, type Task } from "@trainable/core";
import type { Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import type { HostedTask, TaskHost } from "./create-task-host.js";

export interface TaskRoutesOptions {
  /** A comment line keeps an idle event stream (and proxies) alive this often. Default 15 s. */
  heartbeatMs?: number;
  /**
   * An event stream ends after this long and the client reconnects from its last event, so no
   * request is held open for the length of a training. Default 60 s.
   */
  maxStreamMs?: number;
}

/** `remoteStatusInput` of a training hosted by this server (what a polling client sends back). */
export const HOSTED_KEY = "hostedTask";

/**
 * `GET /tasks/:id` (the task), `GET /tasks/:id/events` (Server-Sent Events: `update` and
 * `finished`, each with an `id`; resumable with `Last-Event-ID`), `POST /tasks/:id/cancel`.
 */
export function mountTaskRoutes(app: Hono, host: TaskHost, options: TaskRoutesOptions = {}): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxStreamMs = options.maxStreamMs ?? 60_000;
  const known = (c: Context): HostedTask => {
    const task = host.get(c.req.param("id") ?? "");
    if (!task)
      throw new NotFoundError(`[runtime] No training task "${c.req.param("id")}" on this server`);
    return task;
  };

  app.get("/tasks/:id", (c) => c.json({ task: known(c) }));

  app.get("/tasks/:id/events", (c) => {
    const task = known(c);
    const header = c.req.header("last-event-id") ?? c.req.query("lastEventId") ?? "0";
    const after = Number.isSafeInteger(Number(header)) && Number(header) >= 0 ? Number(header) : 0;
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      const heartbeat = setInterval(() => {
        void stream.write(": keep-alive\n\n").catch(() => stop.abort());
      }, heartbeatMs);
      const end = setTimeout(() => stop.abort(), maxStreamMs);
      try {
        await stream.writeSSE({
          event: "hello",
          data: JSON.stringify({ lastEventId: task.lastEventId }),
          retry: 1000,
        });
        for await (const event of host.events(task.taskId, after, stop.signal)) {
          await stream.writeSSE({
            id: String(event.id),
            event: event.type,
            data: JSON.stringify(event),
          });
        }
      } finally {
        clearInterval(heartbeat);
        clearTimeout(end);
      }
    });
  });

  app.post("/tasks/:id/cancel", async (c) => c.json({ task: await host.cancel(known(c).taskId) }));
}

/**
 * The answer to `POST /train` for a training started on this server: its `train` call's own
 * answer when it came within the wait (the original shape), else 202 and a `running` task
 * whose `remoteStatusInput` names the hosted task (a client that polls `/train` with
 * `isStatusCheck` gets its progress; one that follows `GET /tasks/:id/events` gets it live).
 */
export function hostedAnswer(task: HostedTask): { httpStatus: 200 | 202 | number; body: unknown } {
  if (task.error) {
    return {
      httpStatus: httpStatusForCode(task.error.code),
      body: { status: failedStatus(task), error: task.error },
    };
  }
  if (task.response) return { httpStatus: 200, body: task.response };
  return {
    httpStatus: 202,
    body: { status: runningStatus(task), task },
  };
}

/**
 * A status check of a training hosted by this server (the original polling shape: the
 * client sends back the `remoteStatusInput` it got), or `undefined` when the check is not for
 * one. The hosted task must be this server's, for the same task id and plugin instance.
 */
export function hostedStatus(
  host: TaskHost,
  request: TrainRequest,
  instanceId: string,
): { httpStatus: number; body: unknown } | undefined {
  const hosted = request.status?.remoteStatusInput?.[HOSTED_KEY];
  if (hosted === undefined) return undefined;
  const task = typeof hosted === "string" ? host.get(hosted) : undefined;
  if (!task || task.taskId !== request.status?.taskId || task.instanceId !== instanceId) {
    throw new NotFoundError(
      `[runtime] No training task "${String(hosted)}" of instance "${instanceId}" on this server`,
    );
  }
  const answer = hostedAnswer(task);
  return task.response
    ? {
        httpStatus: answer.httpStatus,
        body: { ...task.response, updates: host.updates(task.taskId) },
      }
    : answer;
}

function runningStatus(task: HostedTask): Task {
  return {
    taskId: task.taskId,
    state: "running",
    statusMessage: task.statusMessage ?? "Training on the plugin server",
    remoteStatusInput: { [HOSTED_KEY]: task.taskId },
    retryAfterMs: 1000,
    startedAt: task.startedAt,
    updatedAt: task.updatedAt,
  };
}

function failedStatus(task: HostedTask): Task {
  return {
    taskId: task.taskId,
    state: task.state === "cancelled" ? "cancelled" : "failed",
    statusMessage: task.error?.message,
    statusCode: task.error?.code,
    updatedAt: task.updatedAt,
  };
}

/** Whether a train answer is final or a still-running hosted call. */
export function isHostedRunning(response: TrainResponse): boolean {
  return (
    !isFinalTaskState(response.status.state) &&
    typeof response.status.remoteStatusInput?.[HOSTED_KEY] === "string"
  );
}
