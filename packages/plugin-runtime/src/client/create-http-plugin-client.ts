import {
  invocableResponseSchema,
  RemoteError,
  TrainingError,
  TrainingParameterPluginOutput,
  TrainPluginOutput,
  ValidationError,
  validateId,
} from "@trainable/core";
import { z } from "zod";
import { errorFromBody } from "../http/error-from-body.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { PluginClient } from "./plugin-client.js";

export interface HttpPluginClientOptions {
  /** The fetch to use (for tests, proxies, auth). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Extra headers on every request (e.g. an `authorization` header). */
  headers?: Record<string, string>;
  /** Per-request timeout. Default 5 minutes (a synchronous `/train` can take long). */
  requestTimeoutMs?: number;
}

const TrainResponseBody = invocableResponseSchema(TrainPluginOutput).extend({
  updates: z.array(TrainPluginOutput.partial()).optional(),
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
  const timeoutMs = options.requestTimeoutMs ?? 5 * 60_000;
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
        headers: { "content-type": "application/json", ...options.headers },
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
      for (const update of response.updates ?? []) callOptions.onUpdate?.(update);
      const { updates: _updates, ...rest } = response;
      return rest as TrainResponse;
    },

    async cancelTraining(request, callOptions = {}) {
      const { body } = await call("POST", "cancelTraining", request, callOptions.signal);
      return parseTrainResponse(body, "cancelTraining") as TrainResponse;
    },
  };

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

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? ` (${cause.code})` : "";
    return `${error.message}${code}`;
  }
  return String(error);
}
