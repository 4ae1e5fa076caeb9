import type { PostUpdate } from "@trainable/core";
import type { TrainRequest } from "../training/train-request.js";
import type { HostedEvent, HostedTask } from "./create-task-host.js";

/** A hosted training as the task host keeps it: the task, its call and its events. */
export interface HostedEntry {
  task: HostedTask;
  request: TrainRequest;
  events: HostedEvent[];
  controller: AbortController;
  done: Promise<void>;
  listeners: Set<() => void>;
  /** What the call threw, when it did. */
  error?: unknown;
}

/** A copy of the entry's task, as clients see it. */
export function snapshot(entry: HostedEntry): HostedTask {
  return structuredClone(entry.task);
}

export interface EmitOptions {
  now: () => Date;
  /** Events kept per task for replay. */
  maxEvents: number;
}

/** Adds an event to the entry (keeping the last `maxEvents`) and wakes its followers. */
export function emit(
  entry: HostedEntry,
  event: { type: "update"; update: PostUpdate } | { type: "finished"; task: HostedTask },
  options: EmitOptions,
): void {
  entry.task.lastEventId += 1;
  entry.task.updatedAt = options.now().toISOString();
  entry.events.push({ ...event, id: entry.task.lastEventId } as HostedEvent);
  if (entry.events.length > options.maxEvents) {
    entry.events.splice(0, entry.events.length - options.maxEvents);
  }
  for (const listener of entry.listeners) listener();
}

/**
 * The entry's events after `afterId` (replayed from those still kept), then live ones, until
 * the `finished` event or until `signal` aborts.
 */
export async function* followEvents(
  entry: HostedEntry,
  afterId: number,
  signal?: AbortSignal,
): AsyncGenerator<HostedEvent> {
  let last = afterId;
  for (;;) {
    const oldest = entry.events[0]?.id ?? entry.task.lastEventId + 1;
    if (last + 1 < oldest) {
      // Missed events no longer kept: start from the oldest kept (the task state they led to
      // is in every "finished" event, and in GET /tasks/:id).
      last = oldest - 1;
    }
    // Kept events have consecutive ids: the next one is found by id, never by a position held
    // across a yield (events arriving meanwhile drop the oldest and shift the list).
    const next = entry.events[last + 1 - oldest];
    if (next !== undefined) {
      last = next.id;
      yield next;
      if (next.type === "finished") return;
      continue;
    }
    if (signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        entry.listeners.delete(wake);
        signal?.removeEventListener("abort", wake);
        resolve();
      };
      entry.listeners.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
    });
  }
}
