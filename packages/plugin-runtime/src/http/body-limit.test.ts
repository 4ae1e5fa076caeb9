import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createBodyLimits } from "./body-limit.js";

function appWithLimit(limit: number) {
  const { limitBody, limited } = createBodyLimits(limit);
  const app = new Hono();
  app.post("/mw", limitBody, async (c) => c.json({ size: (await c.req.text()).length }));
  app.post(
    "/one",
    limited(async (c) => c.json({ size: (await c.req.text()).length })),
  );
  return app;
}

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, 4));
      controller.enqueue(bytes.slice(4));
      controller.close();
    },
  });
}

describe("createBodyLimits", () => {
  for (const path of ["/mw", "/one"]) {
    it(`${path}: lets a body within the limit through`, async () => {
      const res = await appWithLimit(10).request(path, { method: "POST", body: "0123456789" });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ size: 10 });
    });

    it(`${path}: refuses a declared length over the limit with 413 and closes`, async () => {
      const res = await appWithLimit(10).request(path, {
        method: "POST",
        body: "0123456789A",
        headers: { "content-length": "11" },
      });
      expect(res.status).toBe(413);
      expect(res.headers.get("connection")).toBe("close");
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("VALIDATION");
      expect(body.error.message).toBe("[runtime] Request body too large: the limit is 10 bytes");
    });

    it(`${path}: counts a streamed body without a length`, async () => {
      const app = appWithLimit(10);
      const over = await app.request(path, {
        method: "POST",
        body: chunked("0123456789ABCDEF"),
        duplex: "half", // Node's fetch needs it for a stream body
      } as RequestInit);
      expect(over.status).toBe(413);
      const within = await app.request(path, {
        method: "POST",
        body: chunked("01234567"),
        duplex: "half", // Node's fetch needs it for a stream body
      } as RequestInit);
      expect(within.status).toBe(200);
      expect(await within.json()).toEqual({ size: 8 });
    });
  }
});
