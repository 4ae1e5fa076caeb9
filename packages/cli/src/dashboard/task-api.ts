import { NotFoundError, validateId } from "@trainable/core";
import type { TaskEvent } from "@trainable/plugin-runtime";
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
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
}

/**
 * `GET tasks`, `GET tasks/:id`, `POST tasks/:id/cancel`, and `GET events`: Server-Sent Events,
 * first a `snapshot` (every task), then a `task` event for each change of any task.
 */
export function mountTaskApi(api: Hono, source: TaskSource, options: EventStreamOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxStreamMs = options.maxStreamMs ?? 60_000;

  api.get("/tasks", async (c) => c.json({ tasks: await source.listTasks() }));

  api.get("/tasks/:id", async (c) => {
    const taskId = validateId(c.req.param("id"), "task id (path)");
    const task = await source.getTask(taskId);
    if (!task) throw new NotFoundError(`[cli] Unknown task "${taskId}"`);
    return c.json({ task });
  });

  api.post("/tasks/:id/cancel", async (c) => {
    const taskId = validateId(c.req.param("id"), "task id (path)");
    const answer = await source.cancel(taskId);
    return c.json(answer, answer.requested ? 202 : 200);
  });

  api.get("/events", (c) =>
    streamSSE(c, async (stream) => {
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
      }, heartbeatMs);
      const end = setTimeout(() => stop.abort(), maxStreamMs);
      stop.signal.addEventListener("abort", () => wake?.());
      try {
        await stream.writeSSE({
          event: "snapshot",
          data: JSON.stringify({ tasks: await source.listTasks() }),
          retry: 1000,
        });
        while (!stop.signal.aborted) {
          const event = queue.shift();
          if (event) {
            await stream.writeSSE({ event: "task", data: JSON.stringify(event) });
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
    }),
  );
}
