import {
  ConflictError,
  type Id,
  isFinalTaskState,
  type JsonObject,
  NotFoundError,
  type PostUpdate,
  type TaskState,
} from "@trainable/core";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import type { ErrorBody } from "../http/error-body.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { followEvents, type HostedEntry, snapshot } from "./hosted-entry.js";
import { runHostedCall } from "./run-hosted-call.js";

/** A training's `train` call running on the plugin server, as clients see it. */
export interface HostedTask {
  taskId: Id;
  instanceId: Id;
  /** `running` while the call runs; then the state it answered (`running` for an external job). */
  state: TaskState;
  statusMessage?: string;
  /** The latest `trainingProgress` posted. */
  progress?: JsonObject;
  /** The call's answer, once it has one (a `running` answer carries `remoteStatusInput`). */
  response?: TrainResponse;
  /** The call's error (as the HTTP error body carries it), when it threw. */
  error?: ErrorBody["error"];
  startedAt: string;
  updatedAt: string;
  /** The id of its last event (for `Last-Event-ID`). */
  lastEventId: number;
}

/** One event of a hosted task: a post-update, or the end of its `train` call. */
export type HostedEvent =
  | { id: number; type: "update"; update: PostUpdate }
  | { id: number; type: "finished"; task: HostedTask };

export interface TaskHostOptions {
  client: LocalPluginClient;
  /** How long `POST /train` waits for the call to finish before answering with the task. Default 2 s. */
  answerWithinMs?: number;
  /** Events kept per task for replay (`Last-Event-ID`). Default 1000. */
  maxEventsPerTask?: number;
  /** Finished tasks kept (oldest forgotten first). Default 1000. */
  maxFinishedTasks?: number;
  now?: () => Date;
  /**
   * Called when a call ends, before its `finished` event is sent (so a client acting on that
   * event finds what this records — e.g. the plugin's `remoteStatusInput` to check next).
   */
  onSettled?(task: HostedTask, error: unknown): void | Promise<void>;
}

export interface TaskHost {
  /**
   * Starts a training's `train` call as task `ids.taskId` (or, for a task already hosted, attaches to it:
   * a repeated call — `retry` — never starts a second one) and waits up to `answerWithinMs`
   * for its answer. Resolves with the task either way.
   */
  start(request: TrainRequest, ids: { taskId: Id; instanceId: Id }): Promise<HostedTask>;
  get(taskId: string): HostedTask | undefined;
  /** Events after `afterId` (replayed), then live ones, until the call finishes or `signal` aborts. */
  events(taskId: string, afterId: number, signal?: AbortSignal): AsyncGenerator<HostedEvent>;
  /** Stops a hosted call and the plugin's job. */
  cancel(taskId: string): Promise<HostedTask>;
  /** The post-updates of a task still kept (for the answer of a call that finished in time). */
  updates(taskId: string): PostUpdate[];
}

/**
 * Runs trainings' `train` calls on the plugin server, detached from the HTTP request that
 * started them: `POST /train` answers within a bounded time with the task, the call goes on,
 * and its post-updates and end stream to `GET /tasks/:id/events` (resumable from any event
 * still kept) or can be polled. Keyed by the engine's task id, so a repeated `POST /train`
 * (the engine lost the answer) attaches to the call already running or finished.
 */
export function createTaskHost(options: TaskHostOptions): TaskHost {
  const { client } = options;
  const answerWithinMs = options.answerWithinMs ?? 2000;
  const emitOptions = {
    now: options.now ?? (() => new Date()),
    maxEvents: options.maxEventsPerTask ?? 1000,
  };
  const maxFinished = options.maxFinishedTasks ?? 1000;
  const entries = new Map<string, HostedEntry>();
  const finishedOrder: string[] = [];
  const known = (taskId: string): HostedEntry => {
    const entry = entries.get(taskId);
    if (!entry) throw new NotFoundError(`[runtime] No training task "${taskId}" on this server`);
    return entry;
  };
  const runOptions = {
    ...emitOptions,
    client,
    onSettled: options.onSettled,
    onFinished: (entry: HostedEntry) => {
      finishedOrder.push(entry.task.taskId);
      while (finishedOrder.length > maxFinished) entries.delete(finishedOrder.shift() as string);
    },
  };

  return {
    async start(request, { taskId, instanceId }) {
      const existing = entries.get(taskId);
      // A repeated call attaches to the call running or its answer — but a call that failed
      // is repeated (that is what the caller retries; the plugin side reattaches to its job).
      const failed = existing?.task.error !== undefined && existing.task.state === "failed";
      if (existing && !failed) {
        if (!request.retry) {
          throw new ConflictError(
            `[runtime] Training task "${taskId}" already exists on this server: repeat it with retry: true, or check it with isStatusCheck`,
          );
        }
        await Promise.race([existing.done, sleep(answerWithinMs)]);
        return snapshot(existing);
      }
      if (existing) {
        const at = finishedOrder.indexOf(taskId);
        if (at >= 0) finishedOrder.splice(at, 1);
      }
      const entry = newEntry(request, { taskId, instanceId, at: emitOptions.now().toISOString() });
      entries.set(taskId, entry);
      entry.done = runHostedCall(entry, runOptions);
      await Promise.race([entry.done, sleep(answerWithinMs)]);
      return snapshot(entry);
    },

    get(taskId) {
      const entry = entries.get(taskId);
      return entry ? snapshot(entry) : undefined;
    },

    updates(taskId) {
      const events = entries.get(taskId)?.events ?? [];
      return events.flatMap((event) => (event.type === "update" ? [event.update] : []));
    },

    async *events(taskId, afterId, signal) {
      yield* followEvents(known(taskId), afterId, signal);
    },

    async cancel(taskId) {
      const entry = known(taskId);
      if (!isFinalTaskState(entry.task.state) || entry.task.response === undefined) {
        entry.controller.abort();
      }
      await entry.done;
      // The plugin's own job (an external one the call started) stops too.
      const status = entry.task.response?.status ?? { taskId, state: "running" as const };
      if (!isFinalTaskState(status.state) || entry.task.state === "cancelled") {
        // A failure here (the external service unreachable) is the caller's to see and
        // repeat: the task is not called cancelled while its job may still run.
        await client.cancelTraining(
          { ...entry.request, status: { ...status, taskId } },
          { prevalidated: true },
        );
        entry.task.state = "cancelled";
      }
      return snapshot(entry);
    },
  };
}

/** A new entry for a call about to start, `running`, with no events yet. */
function newEntry(
  request: TrainRequest,
  { taskId, instanceId, at }: { taskId: Id; instanceId: Id; at: string },
): HostedEntry {
  return {
    task: { taskId, instanceId, state: "running", startedAt: at, updatedAt: at, lastEventId: 0 },
    request: {
      ...request,
      status: { ...request.status, taskId, state: request.status?.state ?? "waiting" },
    },
    events: [],
    controller: new AbortController(),
    done: Promise.resolve(),
    listeners: new Set(),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
}
