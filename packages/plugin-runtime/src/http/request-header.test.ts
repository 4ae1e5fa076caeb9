import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestHeader } from "./request-header.js";

const NAMES = ["origin", "sec-fetch-site", "sec-fetch-mode", "host", "x-twice", "x-absent"];

/** What `requestHeader` and `c.req.header` answer, over a real socket. */
let port: number;
let close: () => void;
beforeAll(async () => {
  const app = new Hono();
  app.post("/echo", (c) =>
    c.json(
      Object.fromEntries(
        NAMES.map((n) => [n, { fast: requestHeader(c, n) ?? null, hono: c.req.header(n) ?? null }]),
      ),
    ),
  );
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  port = (server.address() as AddressInfo).port;
  close = () => server.close();
});
afterAll(() => close());

function post(rawHeaders: string[]): Promise<Record<string, { fast: unknown; hono: unknown }>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/echo" }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve(JSON.parse(text)));
    });
    req.once("error", reject);
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      const existing = req.getHeader(name);
      const value = rawHeaders[i + 1] as string;
      req.setHeader(name, existing === undefined ? value : [String(existing), value].flat());
    }
    req.end();
  });
}

describe("requestHeader on Node", () => {
  it("answers what c.req.header answers: absent, case-insensitive, repeated headers joined", async () => {
    const answers = await post([
      "Origin",
      "http://a.example",
      "Sec-Fetch-Mode",
      "cors",
      "x-twice",
      "one",
      "x-twice",
      "two",
    ]);
    for (const name of NAMES) expect(answers[name]?.fast, name).toEqual(answers[name]?.hono);
    expect(answers.origin?.fast).toBe("http://a.example");
    expect(answers["sec-fetch-mode"]?.fast).toBe("cors");
    expect(answers["x-twice"]?.fast).toBe("one, two");
    expect(answers["sec-fetch-site"]?.fast).toBeNull();
    expect(answers.host?.fast).toBe(`127.0.0.1:${port}`);
  });
});
