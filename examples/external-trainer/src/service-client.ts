import { RemoteError } from "@trainable/core";
import { z } from "zod";
import type { TrainingExample } from "./external-config.js";

/** A job as the external service reports it (`GET /jobs/:id`). */
export const RemoteJob = z.object({
  jobId: z.string(),
  state: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
  epoch: z.number(),
  epochs: z.number(),
  loss: z.number().optional(),
  modelId: z.string().optional(),
  error: z.string().optional(),
});
export type RemoteJob = z.infer<typeof RemoteJob>;

const Predictions = z.object({
  predictions: z.array(z.object({ label: z.string(), score: z.number() })),
});

export interface ServiceClientOptions {
  /** Timeout of each request. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/**
 * A thin client of the external training service's HTTP API. Network failures, timeouts and
 * 5xx answers throw a retryable `RemoteError`; 4xx answers a non-retryable one with the
 * service's message. Nothing here knows about the trainable engine.
 */
export class ServiceClient {
  readonly baseUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(baseUrl: string, options: Omit<ServiceClientOptions, "signal"> = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  async health(signal?: AbortSignal): Promise<{ ok: boolean }> {
    return this.#call("GET", "/health", { schema: z.object({ ok: z.boolean() }), signal });
  }

  async submitJob(
    body: {
      examples: readonly TrainingExample[];
      epochs: number;
      learningRate?: number;
      clientToken?: string;
    },
    signal?: AbortSignal,
  ): Promise<RemoteJob> {
    return this.#call("POST", "/jobs", { body, schema: RemoteJob, signal });
  }

  async getJob(jobId: string, signal?: AbortSignal): Promise<RemoteJob> {
    return this.#call("GET", `/jobs/${encodeURIComponent(jobId)}`, { schema: RemoteJob, signal });
  }

  async cancelJob(jobId: string, signal?: AbortSignal): Promise<RemoteJob> {
    return this.#call("POST", `/jobs/${encodeURIComponent(jobId)}/cancel`, {
      body: {},
      schema: RemoteJob,
      signal,
    });
  }

  async predict(
    modelId: string,
    texts: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ label: string; score: number }[]> {
    const path = `/models/${encodeURIComponent(modelId)}/predict`;
    return (await this.#call("POST", path, { body: { texts }, schema: Predictions, signal }))
      .predictions;
  }

  async #call<T>(
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; schema: z.ZodType<T>; signal?: AbortSignal },
  ): Promise<T> {
    const { body, schema, signal } = options;
    const what = `${method} ${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const reason = timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : describe(error);
      throw new RemoteError(
        `[external-trainer] The training service at ${this.baseUrl} is unreachable (${what}: ${reason}). Is it running? Start it with: pnpm --filter @example/external-trainer service --port <port>`,
        { retryable: true, cause: error },
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const message = (json as { error?: unknown } | undefined)?.error;
      throw new RemoteError(
        `[external-trainer] ${what} answered ${response.status}: ${typeof message === "string" ? message : text.slice(0, 200)}`,
        { retryable: response.status >= 500 || response.status === 429, status: response.status },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new RemoteError(
        `[external-trainer] ${what} answered an unexpected body: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      );
    }
    return parsed.data;
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}
