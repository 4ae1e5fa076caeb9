import {
  httpStatusForCode,
  invocableResponseSchema,
  NotFoundError,
  PostUpdate,
  RemoteError,
  TrainableError,
  TrainingError,
  TrainingParameterPluginOutput,
  TrainPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import { z } from "zod";
import type { HostedTask } from "../hosted/create-task-host.js";
import { isHostedRunning } from "../hosted/task-routes.js";
import { errorFromBody } from "../http/error-from-body.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { PluginClient } from "./plugin-client.js";
import { readEvents } from "./read-events.js";

export interface HttpPluginClientOptions {
  /** The fetch to use (for tests, proxies). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** The plugin server's bearer token (`trainable serve --token`); sent on every request. */
  token?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /**
   * Per-request timeout. Default 2 minutes: no request lasts a training's length — `POST
   * /train` answers within seconds and a long training is followed as a task.
   */
  requestTimeoutMs?: number;
  /**
   * How long a training's event stream may stay unreachable (reconnecting with backoff)
   * before the call fails with a retryable `RemoteError`. Default 10 minutes.
   */
  reconnectForMs?: number;
}

const TrainResponseBody = invocableResponseSchema(TrainPluginOutput).extend({
  updates: z.array(z.union([PostUpdate, TrainPluginOutput.partial()])).optional(),
});

/**
 * A plugin served over HTTP (by `createPluginApp`/`servePlugin`) as a {@link PluginClient}:
 * the local engine drives it exactly as an in-process plugin. Training runs — and a finished
 * training is saved with `saveRemote` — in the plugin server's process; the answer carries
 * the `archivePath`, and the model's `postUpdate`s of each call come back as `updates`.
 */
export function createHttpPluginClient(
  baseUrl: string | URL,
  options: HttpPluginClientOptions = {},
): PluginClient {
  let base: URL;
  try {
    base = new URL(String(baseUrl));
  } catch {
    throw ValidationError.forField(
      "runtime",
      "baseUrl",
      `${JSON.stringify(String(baseUrl))} is not a URL`,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw ValidationError.forField("runtime", "baseUrl", "must be an http: or https: URL");
  }
  const root = base.href.endsWith("/") ? base.href : `${base.href}/`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.requestTimeoutMs ?? 2 * 60_000;
  const reconnectForMs = options.reconnectForMs ?? 10 * 60_000;
  const headers: Record<string, string> = {
    ...options.headers,
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
  };
  const display = `${base.origin}${base.pathname === "/" ? "" : base.pathname}`;

  async function call(
    method: "POST" | "PUT",
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    const url = new URL(path, root);
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw new RemoteError(
        `[runtime] Plugin server ${display} did not answer ${method} /${path}: ${describe(error)}`,
        { retryable: true, cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new RemoteError(
        `[runtime] Plugin server ${display} answered ${method} /${path} with HTTP ${response.status} and a body that is not JSON`,
        { status: response.status, retryable: response.status >= 500 },
      );
    }
    if (!response.ok) throw errorFromBody(response.status, parsed, `${display}/${path}`);
    return { status: response.status, body: parsed };
  }

  const dataOf = (body: unknown): unknown => (body as { data?: unknown } | undefined)?.data;

  return {
    kind: "http",
    name: display,

    async registerInstance(instance) {
      const id = validateId(instance?.id, "id");
      await call("PUT", `instances/${encodeURIComponent(id)}`, {
        handle: instance.handle,
        config: instance.config,
      });
      return { ...instance, id };
    },

    async run(request, runOptions = {}) {
      const query =
        runOptions.handle === undefined
          ? ""
          : `?handle=${encodeURIComponent(validateId(runOptions.handle, "handle"))}`;
      const { body } = await call("POST", `run${query}`, request, runOptions.signal);
      return dataOf(body);
    },

    async getTrainingParameters(request, callOptions = {}) {
      const { body } = await call("POST", "getTrainingParameters", request, callOptions.signal);
      const checked = TrainingParameterPluginOutput.safeParse(dataOf(body) ?? {});
      if (!checked.success) {
        throw new TrainingError(
          `[runtime] Plugin server ${display} answered getTrainingParameters with an invalid body: ${ValidationError.fromZod("runtime", "TrainingParameterPluginOutput", checked.error).message}`,
        );
      }
      return checked.data;
    },

    async train(request, callOptions = {}) {
      const { body } = await call("POST", "train", request, callOptions.signal);
      const response = parseTrainResponse(body, "train");
      for (const update of response.updates ?? []) callOptions.onUpdate?.(normalizeUpdate(update));
      const { updates: _updates, ...rest } = response;
      const answer = rest as TrainResponse;
      // A training that outlasts the request runs on as a task on the server: follow it.
      if (isHostedRunning(answer)) return follow(answer.status.taskId as string, callOptions);
      return answer;
    },

    async cancelTraining(request, callOptions = {}) {
      const { body } = await call("POST", "cancelTraining", request, callOptions.signal);
      return parseTrainResponse(body, "cancelTraining") as TrainResponse;
    },
  };

  /**
   * Follows a training hosted by the server through its event stream until its `train` call
   * ends: post-updates are relayed as they come, a dropped or ended stream is reopened from
   * the last event seen (`Last-Event-ID`), with backoff, for up to `reconnectForMs`.
   */
  async function follow(
    taskId: string,
    callOptions: { signal?: AbortSignal; onUpdate?: (update: PostUpdate) => void },
  ): Promise<TrainResponse> {
    const { signal } = callOptions;
    const url = new URL(`tasks/${encodeURIComponent(taskId)}/events`, root);
    let last = 0;
    let failingSince: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await doFetch(url, {
          headers: { accept: "text/event-stream", "last-event-id": String(last), ...headers },
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
            callOptions.onUpdate?.(update);
          } else if (event.event === "finished") {
            const { task } = JSON.parse(event.data) as { task: HostedTask };
            if (task.error) {
              throw errorFromBody(
                httpStatusForCode(task.error.code),
                { error: task.error },
                `${display}/train`,
              );
            }
            return parseTrainResponse(task.response, "train") as TrainResponse;
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

  function parseTrainResponse(body: unknown, what: string) {
    const checked = TrainResponseBody.safeParse(body ?? {});
    if (!checked.success || !checked.data.status) {
      const detail = checked.success
        ? "status: missing"
        : ValidationError.fromZod("runtime", "train response", checked.error).message;
      throw new RemoteError(
        `[runtime] Plugin server ${display} answered ${what} with an invalid body: ${detail}`,
      );
    }
    return checked.data;
  }
}

/** An update as the server sent it: a `PostUpdate`, or (an older server) partial output. */
function normalizeUpdate(update: unknown): PostUpdate {
  const value = update as Record<string, unknown>;
  return "state" in value || "statusMessage" in value || "output" in value
    ? (value as PostUpdate)
    : { output: value as PostUpdate["output"] };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? ` (${cause.code})` : "";
    return `${error.message}${code}`;
  }
  return String(error);
}
