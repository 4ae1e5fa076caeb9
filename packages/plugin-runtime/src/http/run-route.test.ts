import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { createFailResponse, mountErrorHandlers } from "./app-errors.js";
import { createBodyLimits } from "./body-limit.js";
import type { RunOptions } from "./run-options.js";
import { mountRunRoute } from "./run-route.js";

function appServing(alias?: string) {
  const calls: Array<{ request: unknown; handle: string | undefined; prevalidated: boolean }> = [];
  const client = {
    name: "demo",
    service: { routeAlias: alias },
    schemas: { run: z.object({ data: z.object({ text: z.string() }) }) },
    run: async (request: unknown, options: RunOptions) => {
      calls.push({ request, handle: options.handle, prevalidated: options.prevalidated });
      return { echoed: request };
    },
  } as unknown as LocalPluginClient;
  const app = new Hono();
  mountErrorHandlers(app, createFailResponse({ error: () => {} }, "demo"));
  mountRunRoute(app, client, createBodyLimits(1024).limited);
  return { app, calls };
}

const post = (app: Hono, path: string, body: string) =>
  app.request(path, { method: "POST", body, headers: { "content-length": String(body.length) } });

describe("mountRunRoute", () => {
  it("parses the request once and answers { data, status }", async () => {
    const { app, calls } = appServing();
    const res = await post(app, "/run?handle=h1", '{"data":{"text":"hi"},"extra":1}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      data: { echoed: { data: { text: "hi" } } },
      status: { state: "succeeded" },
    });
    expect(calls).toEqual([
      { request: { data: { text: "hi" } }, handle: "h1", prevalidated: true },
    ]);
  });

  it("serves the alias too", async () => {
    const { app } = appServing("tag");
    expect((await post(app, "/tag", '{"data":{"text":"x"}}')).status).toBe(200);
  });

  it("answers 400 for a bad body or handle, 413 over the limit, without calling the plugin", async () => {
    const { app, calls } = appServing();
    expect((await post(app, "/run", '{"data":{"text":1}}')).status).toBe(400);
    expect((await post(app, "/run?handle=..", '{"data":{"text":"x"}}')).status).toBe(400);
    expect((await post(app, "/run", `{"data":{"text":"${"x".repeat(2000)}"}}`)).status).toBe(413);
    expect(calls).toEqual([]);
  });
});
