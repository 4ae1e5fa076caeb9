import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type AccessGuardOptions, mountAccessGuard } from "./access-guard.js";

const TOKEN = "0123456789abcdef0123";

function guarded(options: Partial<AccessGuardOptions>) {
  const app = new Hono();
  mountAccessGuard(app, { tokens: undefined, alias: "tag", protectRun: true, ...options });
  app.all("*", (c) => c.text("reached"));
  return app;
}

describe("mountAccessGuard", () => {
  it("with a token: only the public routes answer without it", async () => {
    const app = guarded({ tokens: [TOKEN] });
    expect((await app.request("/health")).status).toBe(200);
    expect((await app.request("/run", { method: "POST" })).status).toBe(401);
    expect((await app.request("/unknown")).status).toBe(401);
    const withToken = await app.request("/run", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await withToken.text()).toBe("reached");
  });

  it("with a token and protectRun false: /run and its alias are open, nothing else", async () => {
    const app = guarded({ tokens: [TOKEN], protectRun: false });
    expect((await app.request("/run", { method: "POST" })).status).toBe(200);
    expect((await app.request("/tag", { method: "POST" })).status).toBe(200);
    expect((await app.request("/train", { method: "POST" })).status).toBe(401);
  });

  it("with a token: publicRequests lets more through", async () => {
    const app = guarded({ tokens: [TOKEN], publicRequests: (m, p) => m === "GET" && p === "/ui" });
    expect((await app.request("/ui")).status).toBe(200);
    expect((await app.request("/ui", { method: "POST" })).status).toBe(401);
  });

  it("without a token: other clients pass, a cross-site browser change is refused", async () => {
    const app = guarded({});
    expect((await app.request("/train", { method: "POST" })).status).toBe(200);
    const fromPage = await app.request("http://127.0.0.1/train", {
      method: "POST",
      headers: { origin: "https://evil.test", "sec-fetch-site": "cross-site", host: "127.0.0.1" },
    });
    expect(fromPage.status).toBe(401);
  });
});
