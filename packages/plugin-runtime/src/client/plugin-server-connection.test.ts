import { NotFoundError, RemoteError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { callPluginServer, type PluginServerConnection } from "./plugin-server-connection.js";

function server(
  fetcher: (url: URL, init: RequestInit) => Promise<Response>,
): PluginServerConnection {
  return {
    root: "http://x.test/base/",
    display: "http://x.test/base",
    fetch: fetcher as typeof fetch,
    headers: { authorization: "Bearer t" },
    timeoutMs: 1000,
  };
}

describe("callPluginServer", () => {
  it("sends JSON with the headers and returns the JSON answer", async () => {
    const seen: { url?: string; init?: RequestInit } = {};
    const answer = await callPluginServer(
      server(async (url, init) => {
        seen.url = String(url);
        seen.init = init;
        return new Response('{"data":1}', { status: 200 });
      }),
      { method: "POST", path: "run?handle=h", body: { a: 1 } },
    );
    expect(answer).toEqual({ status: 200, body: { data: 1 } });
    expect(seen.url).toBe("http://x.test/base/run?handle=h");
    expect(seen.init?.method).toBe("POST");
    expect(seen.init?.body).toBe('{"a":1}');
    expect(seen.init?.headers).toEqual({
      "content-type": "application/json",
      authorization: "Bearer t",
    });
  });

  it("rebuilds the typed error of an error answer", async () => {
    const call = callPluginServer(
      server(async () =>
        Response.json({ error: { code: "NOT_FOUND", message: "[x] gone" } }, { status: 404 }),
      ),
      { method: "PUT", path: "instances/a", body: {} },
    );
    await expect(call).rejects.toSatisfy(NotFoundError.isInstance);
  });

  it("no answer is a retryable RemoteError naming the server and the route", async () => {
    const error = (await callPluginServer(
      server(async () => {
        throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
      }),
      { method: "POST", path: "train", body: {} },
    ).catch((e: unknown) => e)) as RemoteError;
    expect(RemoteError.isInstance(error) && error.retryable).toBe(true);
    expect((error as Error).message).toBe(
      "[runtime] Plugin server http://x.test/base did not answer POST /train: fetch failed (ECONNREFUSED)",
    );
  });

  it("a body that is not JSON is a RemoteError, retryable for a 5xx", async () => {
    const error = (await callPluginServer(
      server(async () => new Response("<html>", { status: 502 })),
      { method: "POST", path: "run", body: {} },
    ).catch((e: unknown) => e)) as RemoteError;
    expect(error.message).toContain("with HTTP 502 and a body that is not JSON");
    expect(error.retryable).toBe(true);
  });

  it("an aborted call throws the signal's reason", async () => {
    const stop = new AbortController();
    const reason = new Error("stopped");
    stop.abort(reason);
    const call = callPluginServer(
      server(async () => {
        throw new Error("aborted");
      }),
      { method: "POST", path: "run", body: {}, signal: stop.signal },
    );
    await expect(call).rejects.toBe(reason);
  });
});
