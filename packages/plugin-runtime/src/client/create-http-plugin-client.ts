import {
  TrainingError,
  TrainingParameterPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import { isHostedRunning } from "../hosted/task-routes.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { followHostedTask } from "./follow-hosted-task.js";
import type { PluginClient } from "./plugin-client.js";
import { callPluginServer, type PluginServerConnection } from "./plugin-server-connection.js";
import { parsePluginServerUrl } from "./plugin-server-url.js";
import { normalizeUpdate, parseTrainResponse } from "./train-response-body.js";

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
  const server: PluginServerConnection = {
    ...parsePluginServerUrl(baseUrl),
    fetch: options.fetch ?? fetch,
    timeoutMs: options.requestTimeoutMs ?? 2 * 60_000,
    headers: {
      ...options.headers,
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
  };
  const { display } = server;
  const reconnectForMs = options.reconnectForMs ?? 10 * 60_000;
  const post = (path: string, body: unknown, signal: AbortSignal | undefined) =>
    callPluginServer(server, { method: "POST", path, body, signal });
  const dataOf = (body: unknown): unknown => (body as { data?: unknown } | undefined)?.data;

  return {
    kind: "http",
    name: display,

    async registerInstance(instance) {
      const id = validateId(instance?.id, "id");
      await callPluginServer(server, {
        method: "PUT",
        path: `instances/${encodeURIComponent(id)}`,
        body: { handle: instance.handle, config: instance.config },
      });
      return { ...instance, id };
    },

    async run(request, runOptions = {}) {
      const query =
        runOptions.handle === undefined
          ? ""
          : `?handle=${encodeURIComponent(validateId(runOptions.handle, "handle"))}`;
      const { body } = await post(`run${query}`, request, runOptions.signal);
      return dataOf(body);
    },

    async getTrainingParameters(request, callOptions = {}) {
      const { body } = await post("getTrainingParameters", request, callOptions.signal);
      const checked = TrainingParameterPluginOutput.safeParse(dataOf(body) ?? {});
      if (!checked.success) {
        throw new TrainingError(
          `[runtime] Plugin server ${display} answered getTrainingParameters with an invalid body: ${ValidationError.fromZod("runtime", "TrainingParameterPluginOutput", checked.error).message}`,
        );
      }
      return checked.data;
    },

    async train(request, callOptions = {}) {
      const { body } = await post("train", request, callOptions.signal);
      const response = parseTrainResponse(body, "train", display);
      for (const update of response.updates ?? []) callOptions.onUpdate?.(normalizeUpdate(update));
      const { updates: _updates, ...rest } = response;
      const answer = rest as TrainResponse;
      // A training that outlasts the request runs on as a task on the server: follow it.
      if (isHostedRunning(answer)) {
        return followHostedTask(server, {
          taskId: answer.status.taskId as string,
          signal: callOptions.signal,
          onUpdate: callOptions.onUpdate,
          reconnectForMs,
        });
      }
      return answer;
    },

    async cancelTraining(request, callOptions = {}) {
      const { body } = await post("cancelTraining", request, callOptions.signal);
      return parseTrainResponse(body, "cancelTraining", display) as TrainResponse;
    },
  };
}
