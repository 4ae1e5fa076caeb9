import { RemoteError } from "@trainable/core";
import { errorFromBody } from "../http/error-from-body.js";
import type { PluginServerUrl } from "./plugin-server-url.js";

/** How an HTTP plugin client reaches its server. */
export interface PluginServerConnection extends PluginServerUrl {
  fetch: typeof fetch;
  /** Sent on every request (the bearer token among them). */
  headers: Record<string, string>;
  /** Per-request timeout. */
  timeoutMs: number;
}

export interface JsonCall {
  method: "POST" | "PUT";
  /** Relative to the server's base URL. */
  path: string;
  /** Sent as JSON. */
  body: unknown;
  signal?: AbortSignal;
}

/**
 * Sends a JSON request to the plugin server and returns its JSON answer. No answer (network
 * failure, timeout) is a retryable `RemoteError`; an error answer is rebuilt as the typed
 * error the server sent (see `errorFromBody`); a body that is not JSON is a `RemoteError`.
 * When `signal` aborts, its reason is thrown.
 */
export async function callPluginServer(
  server: PluginServerConnection,
  { method, path, body, signal }: JsonCall,
): Promise<{ status: number; body: unknown }> {
  const { display } = server;
  const url = new URL(path, server.root);
  const timeout = AbortSignal.timeout(server.timeoutMs);
  let response: Response;
  try {
    response = await server.fetch(url, {
      method,
      headers: { "content-type": "application/json", ...server.headers },
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

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? ` (${cause.code})` : "";
    return `${error.message}${code}`;
  }
  return String(error);
}
