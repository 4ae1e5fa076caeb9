import { NotFoundError, RemoteError, validateId } from "@trainable/core";
import { errorBody, type TaskEvent } from "@trainable/plugin-runtime";
import type { Context, Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { Task, TaskEvent as TaskEventJson } from "./api-types.js";
import type { TaskSource } from "./task-source.js";

export interface EventStreamOptions {
  /** A comment line keeps an idle stream (and proxies) alive this often. Default 15 s. */
  heartbeatMs?: number;
  /**
   * A stream ends after this long and the page reconnects (it gets a fresh snapshot), so no
   * request is held open for the length of a training. Default 60 s.
   */
  maxStreamMs?: number;
  /** Aborted when the server shuts down: open streams end at once (the page reconnects). */
  signal?: AbortSignal;
  /**
   * Open event streams at most (each holds a socket and a subscription); one more gets `503`
   * with `Retry-After`. Default 64.
   */
  maxStreams?: number;
  /**
   * Cancels waiting for their task to end at most (each is held up to the source's
   * `cancelWaitMs`); one more gets `503` with `Retry-After`. Default 16.
   */
  maxPendingCancels?: number;
}

/** The task id of a route's path, checked once as the request is parsed. */
const taskParam = (c: Context) => validateId(c.req.param("id"), "task id (path)");

/** Seconds a client is told to wait before trying again when a cap is reached. */
const RETRY_AFTER_S = 5;

/** 503 with `Retry-After`: a cap of the dashboard is reached, the request may be retried. */
function busy(c: Context, message: string) {
  c.header("Retry-After", String(RETRY_AFTER_S));
  const error = new RemoteError(`[cli] Dashboard: ${message}; try again in ${RETRY_AFTER_S} s`, {
    retryable: true,
    status: 503,
  });
  return c.json({ error: errorBody(error).body.error }, 503);
}

/**
 * `GET tasks`, `GET tasks/:id`, `POST tasks/:id/cancel`, and `GET events`: Server-Sent Events,
 * first a `snapshot` (every task), then a `task` event for each change of any task.
 */
export function mountTaskApi(api: Hono, source: TaskSource, options: EventStreamOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxStreamMs = options.maxStreamMs ?? 60_000;
  const maxStreams = options.maxStreams ?? 64;
  const maxPendingCancels = options.maxPendingCancels ?? 16;
  let openStreams = 0;
  let pendingCancels = 0;

  api.get("/tasks", async (c) => c.json({ tasks: (await source.listTasks()) satisfies Task[] }));

  api.get("/tasks/:id", async (c) => {
    const taskId = taskParam(c);
    const task = await source.getTask(taskId);
    if (!task) throw new NotFoundError(`[cli] Unknown task "${taskId}"`);
    return c.json({ task: task satisfies Task });
  });

  api.post("/tasks/:id/cancel", async (c) => {
    const taskId = taskParam(c);
    if (pendingCancels >= maxPendingCancels) {
      return busy(c, `${maxPendingCancels} cancels are already waiting for their task to end`);
    }
    pendingCancels++;
    try {
      const answer = await source.cancel(taskId);
      return c.json(answer, answer.requested ? 202 : 200);
    } finally {
      pendingCancels--;
    }
  });

  api.get("/events", (c) => {
    if (openStreams >= maxStreams) {
      return busy(c, `${maxStreams} event streams are open, the most this dashboard serves`);
    }
    openStreams++;
    return streamSSE(c, (stream) =>
      follow(stream, source, { heartbeatMs, maxStreamMs, signal: options.signal }).finally(() => {
        openStreams--;
      }),
    );
  });
}

/** One page's event stream: a snapshot, then every change, until it ends. */
async function follow(
  stream: SSEStreamingApi,
  source: TaskSource,
  options: { heartbeatMs: number; maxStreamMs: number; signal?: AbortSignal },
): Promise<void> {
  const stop = new AbortController();
  stream.onAbort(() => stop.abort());
  const closing = () => stop.abort();
  options.signal?.addEventListener("abort", closing, { once: true });
  if (options.signal?.aborted) stop.abort();
  const queue: TaskEvent[] = [];
  let wake: (() => void) | undefined;
  const off = source.subscribe((event) => {
    // A page that cannot keep up gets a fresh snapshot instead of an endless backlog.
    if (queue.length >= 1000) stop.abort();
    queue.push(event);
    wake?.();
  });
  const heartbeat = setInterval(() => {
    void stream.write(": keep-alive\n\n").catch(() => stop.abort());
  }, options.heartbeatMs);
  const end = setTimeout(() => stop.abort(), options.maxStreamMs);
  stop.signal.addEventListener("abort", () => wake?.());
  try {
    await stream.writeSSE({
      event: "snapshot",
      data: JSON.stringify({ tasks: (await source.listTasks()) satisfies Task[] }),
      retry: 1000,
    });
    while (!stop.signal.aborted) {
      const event = queue.shift();
      if (event) {
        await stream.writeSSE({
          event: "task",
          data: JSON.stringify(event satisfies TaskEventJson),
        });
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    options.signal?.removeEventListener("abort", closing);
    off();
    clearInterval(heartbeat);
    clearTimeout(end);
  }
}
