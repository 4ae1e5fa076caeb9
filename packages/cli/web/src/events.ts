import type { Task, TaskEvent } from "../../src/dashboard/api-types.js";
import { ApiError, headers } from "./api.js";

export interface EventHandlers {
  snapshot(tasks: Task[]): void;
  task(event: TaskEvent): void;
  status(connected: boolean): void;
  unauthorized(error: ApiError): void;
}

/**
 * Follows `api/events` (Server-Sent Events, read with fetch so the token can go in a header):
 * a `snapshot` of every task, then a `task` event per change. The server ends each stream
 * after a while; this reconnects at once (after a failure, with a growing pause). Returns the
 * function that stops it.
 */
export function followEvents(handlers: EventHandlers): () => void {
  const controller = new AbortController();
  let failures = 0;
  const loop = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch("./api/events", {
          headers: headers({ accept: "text/event-stream" }),
          signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          handlers.unauthorized(new ApiError(response.status, "UNAUTHORIZED", "token needed"));
          return;
        }
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        handlers.status(true);
        failures = 0;
        await read(response.body, handlers);
      } catch {
        if (controller.signal.aborted) return;
        failures++;
      }
      handlers.status(false);
      const pause = Math.min(10_000, failures === 0 ? 0 : 500 * 2 ** failures);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };
  void loop();
  return () => controller.abort();
}

async function read(body: ReadableStream<Uint8Array>, handlers: EventHandlers) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      dispatch(buffer.slice(0, end), handlers);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
    }
  }
}

function dispatch(block: string, handlers: EventHandlers) {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return;
  const value = JSON.parse(data.join("\n"));
  if (event === "snapshot") handlers.snapshot((value as { tasks: Task[] }).tasks);
  else if (event === "task") handlers.task(value as TaskEvent);
}
