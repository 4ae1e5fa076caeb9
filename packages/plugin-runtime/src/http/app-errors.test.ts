import { NotFoundError } from "@trainable/core";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createFailResponse, mountErrorHandlers } from "./app-errors.js";

function appLogging() {
  const logged: string[] = [];
  const app = new Hono();
  mountErrorHandlers(app, createFailResponse({ error: (m) => logged.push(m) }, "demo"));
  app.get("/missing", () => {
    throw new NotFoundError("[x] no such thing");
  });
  app.get("/bug", () => {
    throw new Error("secret detail");
  });
  return { app, logged };
}

describe("app errors", () => {
  it("answers a TrainableError with its status and body, without logging it", async () => {
    const { app, logged } = appLogging();
    const res = await app.request("/missing");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "[x] no such thing",
    );
    expect(logged).toEqual([]);
  });

  it("hides and logs an unexpected error", async () => {
    const { app, logged } = appLogging();
    const res = await app.request("/bug");
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret detail");
    expect(logged).toEqual(["[runtime] demo: GET /bug failed"]);
  });

  it("answers an unknown route with 404 NOT_FOUND", async () => {
    const { app } = appLogging();
    const res = await app.request("/nowhere", { method: "POST" });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { code: "NOT_FOUND", message: "[runtime] No route POST /nowhere" },
    });
  });
});
