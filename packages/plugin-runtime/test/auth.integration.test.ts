/**
 * The bearer token of a plugin server, over a real socket: every route but GET /health (and
 * POST /run + alias when protectRun is false) refuses requests without the right token — fuzzed
 * with missing, malformed, wrong-length, wrong-case and almost-right tokens and random bodies —
 * with 401 and nothing changed (store, server state, plugin calls, external jobs); the right
 * token (any of a rotation) works; a server refuses to listen beyond loopback without one.
 */
import { ValidationError } from "@trainable/core";
import fc from "fast-check";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issuedTasksOf } from "../src/http/app-state.js";
import { isLoopbackHostname } from "../src/http/loopback.js";
import { parseTokens } from "../src/http/require-token.js";
import { createPluginApp, type ServedPlugin, servePlugin } from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { fakeJobs, KeywordTagger } from "./__fixtures__/plugins.mjs";
import {
  call,
  closeAgent,
  type RawRequest,
  RecordingJobTagger,
  StatelessJobModel,
  send,
  snapshotTree,
} from "./auth-helpers.js";

const TOKEN = "Tr41n-ABLE.tok_en~for+auth/TESTS0123456789";
const OLD_TOKEN = "old-Rotated-token-0123456789abcdefXYZ==";
const SEED = 20_260_707;

afterAll(() => closeAgent());

describe("isLoopbackHostname", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.255.0.9", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["::ffff:127.0.0.1", true],
    ["localhost", true],
    ["LOCALHOST", true],
    ["0.0.0.0", false],
    ["::", false],
    ["192.168.1.10", false],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    ["localhost.example.com", false],
    ["my-laptop", false],
    ["", false],
  ])("%s → %s", (host, loopback) => {
    expect(isLoopbackHostname(host)).toBe(loopback);
  });
});

describe("token option", () => {
  it("accepts one token or a list, and refuses bad ones without echoing them", () => {
    expect(parseTokens(TOKEN)).toEqual([TOKEN]);
    expect(parseTokens([TOKEN, OLD_TOKEN])).toEqual([TOKEN, OLD_TOKEN]);
    const secret = "short-secret";
    for (const [bad, pattern] of [
      [secret, /token: must be 16 to 4096 characters long \(it has 12\)/],
      ["has spaces in it, sixteen+", /may only contain/],
      ["comma,separated,sixteen-chars", /may only contain/],
      [`${TOKEN}=x`, /may only contain/],
      ["", /16 to 4096/],
      [[], /empty list/],
      [[TOKEN, secret], /token\[1\]: must be 16/],
      [42, /must be a string or a list/],
    ] as const) {
      let thrown: unknown;
      try {
        parseTokens(bad);
      } catch (error) {
        thrown = error;
      }
      expect(ValidationError.isInstance(thrown), String(bad)).toBe(true);
      expect((thrown as Error).message).toMatch(pattern);
      expect((thrown as Error).message).not.toContain(secret);
    }
  });

  it("createPluginApp checks the token when the app is built", async () => {
    const env = await createTestEnv();
    try {
      expect(() =>
        createPluginApp(new KeywordTagger(), { store: env.store, token: "too-short" }),
      ).toThrow(/Invalid token: must be 16/);
    } finally {
      await env.cleanup();
    }
  });
});

describe("servePlugin refuses a non-loopback address without a token", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const refusal = async (promise: Promise<ServedPlugin>) => {
    let thrown: unknown;
    try {
      const served = await promise;
      await served.close();
    } catch (error) {
      thrown = error;
    }
    expect(ValidationError.isInstance(thrown)).toBe(true);
    return thrown as ValidationError;
  };

  it("a service on 0.0.0.0 or a LAN-style address: refused, naming token, --token and TRAINABLE_TOKEN", async () => {
    for (const hostname of ["0.0.0.0", "::"]) {
      const error = await refusal(
        servePlugin(new KeywordTagger(), { store: env.store, port: 0, hostname }),
      );
      expect(error.issues.map((i) => i.path)).toEqual(["token"]);
      expect(error.message).toContain(`listen on ${hostname}`);
      expect(error.message).toMatch(/--token/);
      expect(error.message).toMatch(/TRAINABLE_TOKEN/);
      expect(error.message).toMatch(/insecure: true/);
    }
  });

  it("an app built without a token, or an app servePlugin did not build: refused too", async () => {
    const app = createPluginApp(new KeywordTagger(), { store: env.store });
    await refusal(servePlugin(app, { port: 0, hostname: "0.0.0.0" }));
    const foreign = new Hono().get("/", (c) => c.text("hi"));
    const error = await refusal(servePlugin(foreign, { port: 0, hostname: "0.0.0.0" }));
    expect(error.message).toMatch(/not built by createPluginApp/);
    // A token cannot be bolted onto a built app.
    const bolted = await refusal(servePlugin(app, { port: 0, token: TOKEN }));
    expect(bolted.message).toMatch(/pass it to createPluginApp/);
  });

  it("serves on 0.0.0.0 with a token, or with insecure: true; loopback needs neither", async () => {
    const withToken = await servePlugin(new KeywordTagger(), {
      store: env.store,
      port: 0,
      hostname: "0.0.0.0",
      token: TOKEN,
    });
    const built = createPluginApp(new KeywordTagger(), { store: env.store, token: [TOKEN] });
    const builtWithToken = await servePlugin(built, { port: 0, hostname: "0.0.0.0" });
    const insecure = await servePlugin(new KeywordTagger(), {
      store: env.store,
      port: 0,
      hostname: "0.0.0.0",
      insecure: true,
    });
    const local = await servePlugin(new KeywordTagger(), {
      store: env.store,
      port: 0,
      hostname: "localhost",
    });
    try {
      for (const served of [withToken, builtWithToken, insecure, local]) {
        const health = await fetch(`http://127.0.0.1:${served.port}/health`);
        expect(health.status).toBe(200);
      }
      const refused = await fetch(`http://127.0.0.1:${withToken.port}/getTrainingParameters`, {
        method: "POST",
        body: "{}",
      });
      expect(refused.status).toBe(401);
    } finally {
      await Promise.all([withToken, builtWithToken, insecure, local].map((s) => s.close()));
    }
  });
});

describe("bearer token on a real socket", () => {
  let env: TestEnv;
  let plugin: RecordingJobTagger;
  let app: Hono;
  let served: ServedPlugin;
  let jobsDir: string;
  let dataDir: string;
  /** A training started with the token before the fuzzing: its status, as the server answered it. */
  let runningStatus: Record<string, unknown>;
  let runningJobId: string;

  const runBody = (instance = "ext") => ({
    data: { file: { blocks: [{ text: "buy spam now" }] } },
    context: { pluginInstanceId: instance },
  });
  const trainBody = (taskId?: string) => ({
    data: {
      pluginInstance: "ext",
      trainingParams: { keywords: ["ham"], checksNeeded: 1_000_000 },
    },
    context: { pluginInstanceId: "ext" },
    ...(taskId ? { status: { taskId, state: "waiting" } } : {}),
    save: { handle: "fuzzed", setAsDefault: true },
  });

  beforeAll(async () => {
    env = await createTestEnv();
    jobsDir = env.dir("jobs");
    dataDir = env.dir("server");
    const model = new StatelessJobModel();
    model.keywords = ["spam"];
    await model.saveRemote({ store: env.store, pluginInstanceId: "ext", handle: "v1" });
    plugin = new RecordingJobTagger();
    app = createPluginApp(plugin, {
      store: env.store,
      cache: env.cache,
      instances: { ext: { config: { jobsDir } } },
      allowInstanceRegistration: true,
      dataDir,
      token: [TOKEN, OLD_TOKEN],
      logger: silentLogger,
    });
    served = await servePlugin(app, { port: 0 });
    const started = await call(served.url, "POST", "/train", trainBody("running-1"), TOKEN);
    expect(started.status, started.text).toBe(200);
    expect(started.json.status.state).toBe("running");
    runningStatus = started.json.status;
    runningJobId = started.json.status.remoteStatusInput.jobId;
  });

  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
  });

  it("GET /health needs no token", async () => {
    const health = await send(served.url, { method: "GET", path: "/health" });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ status: "ok", plugin: "RecordingJobTagger" });
  });

  /** Everything the fuzzing must leave as it is. */
  async function state() {
    const job = await fakeJobs.read(jobsDir, runningJobId);
    return {
      store: await snapshotTree(env.storeDir),
      server: await snapshotTree(dataDir),
      jobs: await snapshotTree(jobsDir),
      tasks: await issuedTasksOf(app)?.list(),
      calls: plugin.calls.length,
      job: { state: job.state, checks: job.checks },
    };
  }

  it("answers 401 to every other route without the right token, and changes nothing", async () => {
    const statusCheck = {
      ...trainBody(),
      isStatusCheck: true,
      status: runningStatus,
    };
    const cancel = { ...trainBody(), status: runningStatus };
    // Each would change something (or cost compute) with the right token.
    const routes: Array<{ method: string; path: string; good?: unknown }> = [
      { method: "POST", path: "/train", good: trainBody() },
      { method: "POST", path: "/train", good: trainBody("fuzz-task") },
      { method: "POST", path: "/train", good: statusCheck },
      { method: "POST", path: "/cancelTraining", good: cancel },
      {
        method: "POST",
        path: "/getTrainingParameters",
        good: { data: { pluginInstance: "ext" }, context: { pluginInstanceId: "ext" } },
      },
      { method: "PUT", path: "/instances/ext", good: { handle: "v9", config: { jobsDir } } },
      { method: "PUT", path: "/instances/newcomer", good: { config: { jobsDir } } },
      { method: "POST", path: "/run", good: runBody() },
      { method: "POST", path: "/tag", good: runBody() },
      { method: "POST", path: "/tag?handle=v1", good: runBody() },
      { method: "DELETE", path: "/instances/ext" },
      { method: "PATCH", path: "/train", good: trainBody() },
      // Routes to come: the task API (reveals and steers trainings).
      { method: "GET", path: "/tasks/running-1" },
      { method: "GET", path: "/tasks/running-1/events" },
      { method: "POST", path: "/tasks/running-1/cancel", good: {} },
      { method: "GET", path: "/tasks" },
      // Unknown routes: 401 too (nothing is revealed before the token).
      { method: "POST", path: "/health" },
      { method: "GET", path: "/nope" },
      { method: "POST", path: "/run/" },
      { method: "POST", path: "//train", good: trainBody() },
      { method: "OPTIONS", path: "/train" },
    ];

    const flipCase = (s: string, mask: number[]) =>
      [...s]
        .map((ch, i) =>
          mask.includes(i) ? (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) : ch,
        )
        .join("");
    const letters = [...TOKEN].flatMap((ch, i) => (/[A-Za-z]/.test(ch) ? [i] : []));
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
    const printable = fc
      .string({ unit: "grapheme-ascii", maxLength: 80 })
      .map((s) => s.replace(/[^\x20-\x7e]/g, ""));
    const wrongToken: fc.Arbitrary<string> = fc.oneof(
      // wrong length: a prefix, or the token with more after it
      fc.integer({ min: 0, max: TOKEN.length - 1 }).map((n) => TOKEN.slice(0, n)),
      fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,12}$/).map((extra) => `${TOKEN}${extra}`),
      fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,12}$/).map((extra) => `${extra}${TOKEN}`),
      // wrong case: some of its letters flipped
      fc
        .uniqueArray(fc.constantFrom(...letters), { minLength: 1, maxLength: 6 })
        .map((mask) => flipCase(TOKEN, mask)),
      // almost right: one character changed
      fc
        .tuple(fc.integer({ min: 0, max: TOKEN.length - 1 }), fc.constantFrom(...b64))
        .filter(([i, ch]) => TOKEN[i] !== ch)
        .map(([i, ch]) => `${TOKEN.slice(0, i)}${ch}${TOKEN.slice(i + 1)}`),
      // the old token, almost
      fc.constant(OLD_TOKEN.slice(0, -1)),
      // another server's token
      fc.stringMatching(/^[A-Za-z0-9._~-]{16,64}$/),
    );
    const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        "",
        "Bearer",
        "Bearer ",
        TOKEN,
        `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}`,
        `Token ${TOKEN}`,
        `Bearer:${TOKEN}`,
        `Bearer=${TOKEN}`,
        `"Bearer ${TOKEN}"`,
        `Bearer "${TOKEN}"`,
        `Bearer ${TOKEN} ${TOKEN}`,
        `Bearer ${TOKEN},Bearer ${OLD_TOKEN}`,
        `BearerBearer ${TOKEN}`,
        `Bearer\t${TOKEN}`,
      ),
      wrongToken.map((t) => `Bearer ${t}`),
      fc
        .tuple(fc.constantFrom("bearer", "BEARER", "bEaReR"), wrongToken)
        .map(([s, t]) => `${s} ${t}`),
      printable,
    );
    const body: fc.Arbitrary<(good: unknown) => string | undefined> = fc.oneof(
      fc.constant((good: unknown) => (good === undefined ? undefined : JSON.stringify(good))),
      fc.jsonValue({ maxDepth: 3 }).map((v) => () => JSON.stringify(v)),
      printable.map((s) => () => s),
      fc.constant(() => undefined),
    );
    const request = fc.tuple(fc.constantFrom(...routes), authorization, body).map(
      ([route, auth, makeBody]): RawRequest => ({
        method: route.method,
        path: route.path,
        headers: auth === undefined ? {} : { authorization: auth },
        body: makeBody(route.good),
      }),
    );

    const before = await state();
    expect(before.tasks?.map((t) => t.taskId)).toEqual(["running-1"]);
    let sent = 0;
    for (let batch = 0; batch < 4; batch++) {
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const answer = await send(served.url, r);
          sent++;
          const label = `${r.method} ${r.path} authorization=${JSON.stringify(r.headers?.authorization)}`;
          expect(answer.status, `${label}: ${answer.text.slice(0, 200)}`).toBe(401);
          expect(answer.headers["www-authenticate"], label).toMatch(/^Bearer realm="trainable"/);
          const json = JSON.parse(answer.text);
          expect(json.error.code, label).toBe("UNAUTHORIZED");
          expect(json.error.message, label).toMatch(/^\[runtime\] Unauthorized: /);
          expect(json.status.state, label).toBe("failed");
          expect(answer.text, label).not.toContain(TOKEN);
          expect(answer.text, label).not.toContain(OLD_TOKEN);
          const presented = /^\S+\s+(\S{16,})/.exec(r.headers?.authorization ?? "")?.[1];
          if (presented) expect(answer.text, label).not.toContain(presented);
        }),
        { seed: SEED + batch, numRuns: 250 },
      );
      expect(await state(), `after batch ${batch}`).toEqual(before);
    }
    expect(sent).toBe(1000);
  });

  it("challenges a missing token plainly and a wrong one with error=invalid_token", async () => {
    const missing = await send(served.url, { method: "POST", path: "/train", body: "{}" });
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="trainable"');
    expect(JSON.parse(missing.text).error).toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("(headers.authorization: missing)"),
    });
    const wrong = await send(served.url, {
      method: "POST",
      path: "/train",
      body: "{}",
      headers: { authorization: `Bearer ${TOKEN.toLowerCase()}` },
    });
    expect(wrong.headers["www-authenticate"]).toBe(
      'Bearer realm="trainable", error="invalid_token"',
    );
    expect(JSON.parse(wrong.text).error.message).toContain(
      "(headers.authorization: token not accepted)",
    );
  });

  it("lets the right token through: either token of the rotation, any case of the scheme", async () => {
    const params = { data: { pluginInstance: "ext" }, context: { pluginInstanceId: "ext" } };
    for (const authorization of [
      `Bearer ${TOKEN}`,
      `Bearer ${OLD_TOKEN}`,
      `bearer ${TOKEN}`,
      `BEARER   ${TOKEN}`,
    ]) {
      const answer = await send(served.url, {
        method: "POST",
        path: "/getTrainingParameters",
        body: JSON.stringify(params),
        headers: { authorization },
      });
      expect(answer.status, authorization).toBe(200);
    }
    const run = await call(served.url, "POST", "/tag", runBody(), TOKEN);
    expect(run.status, run.text).toBe(200);
    expect(run.json.data.file.blocks[0].tags).toEqual([{ kind: "keyword", name: "spam" }]);
    const put = await call(
      served.url,
      "PUT",
      "/instances/newcomer",
      { config: { jobsDir } },
      OLD_TOKEN,
    );
    expect(put.status, put.text).toBe(200);
    // Past the token, the usual answers: an unknown route is a 404 again.
    expect((await call(served.url, "GET", "/tasks/x", undefined, TOKEN)).status).toBe(404);
  });

  it("protectRun: false opens POST /run and its alias only", async () => {
    const open = createPluginApp(plugin, {
      store: env.store,
      cache: env.cache,
      instances: { ext: { config: { jobsDir } } },
      token: TOKEN,
      protectRun: false,
      logger: silentLogger,
    });
    const s = await servePlugin(open, { port: 0 });
    try {
      expect((await call(s.url, "POST", "/run", runBody())).status).toBe(200);
      expect((await call(s.url, "POST", "/tag?handle=v1", runBody())).status).toBe(200);
      expect((await call(s.url, "POST", "/train", trainBody())).status).toBe(401);
      expect((await call(s.url, "POST", "/cancelTraining", trainBody())).status).toBe(401);
      expect(
        (await call(s.url, "POST", "/getTrainingParameters", { data: { pluginInstance: "ext" } }))
          .status,
      ).toBe(401);
      expect((await call(s.url, "GET", "/tasks/x", undefined)).status).toBe(401);
    } finally {
      await s.close();
    }
  });

  it("publicRequests opens only what it lets through, after the built-in public routes", async () => {
    const withPage = createPluginApp(plugin, {
      store: env.store,
      cache: env.cache,
      instances: { ext: { config: { jobsDir } } },
      token: TOKEN,
      publicRequests: (method, path) => method === "GET" && path.startsWith("/ui/"),
      logger: silentLogger,
    });
    withPage.get("/ui/page", (c) => c.json({ page: true }));
    withPage.get("/ui-data", (c) => c.json({ data: true }));
    const s = await servePlugin(withPage, { port: 0 });
    try {
      expect((await call(s.url, "GET", "/ui/page", undefined)).status).toBe(200);
      expect((await call(s.url, "POST", "/ui/page", undefined)).status).toBe(401);
      expect((await call(s.url, "GET", "/ui-data", undefined)).status).toBe(401);
      expect((await call(s.url, "GET", "/ui-data", undefined, TOKEN)).status).toBe(200);
      expect((await call(s.url, "POST", "/run", runBody())).status).toBe(401);
    } finally {
      await s.close();
    }
    expect(() =>
      createPluginApp(plugin, {
        store: env.store,
        token: TOKEN,
        publicRequests: "GET /ui" as never,
      }),
    ).toThrow(/publicRequests/);
  });

  it("closes the connection of a refused request whose body it will not read", async () => {
    const big = await send(served.url, {
      method: "POST",
      path: "/train",
      body: JSON.stringify({ pad: "x".repeat(100 * 1024) }),
    });
    expect(big.status).toBe(401);
    expect(big.headers.connection).toBe("close");
    const small = await send(served.url, { method: "POST", path: "/train", body: "{}" });
    expect(small.status).toBe(401);
    expect(small.headers.connection).not.toBe("close");
  });
});

describe("a plugin server without a token, and web pages", () => {
  let env: TestEnv;
  let served: ServedPlugin;
  let port: string;
  beforeAll(async () => {
    env = await createTestEnv();
    served = await servePlugin(new KeywordTagger(), { store: env.store, port: 0 });
    port = new URL(served.url).port;
  });
  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
  });
  const train = (headers: Record<string, string>) =>
    send(served.url, {
      method: "POST",
      path: "/train",
      body: JSON.stringify({ context: { pluginInstanceId: "x" }, input: {} }),
      headers,
    });

  it("refuses a change posted from another site (CSRF), with or without Sec-Fetch-Site", async () => {
    const cases: Array<Record<string, string>> = [
      { origin: "http://evil.example", "content-type": "text/plain" },
      { origin: "http://evil.example" },
      { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" },
      { "sec-fetch-site": "same-site", origin: `http://localhost:${Number(port) + 1}` },
      { origin: "null" },
    ];
    for (const headers of cases) {
      const answer = await train(headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.text).toMatch(/from another site/);
    }
  });

  it("refuses browser requests under a DNS name (rebinding), reads included", async () => {
    for (const method of ["GET", "POST"] as const) {
      const answer = await send(served.url, {
        method,
        path: method === "GET" ? "/health" : "/train",
        ...(method === "POST" ? { body: "{}" } : {}),
        headers: {
          host: `rebind.attacker.example:${port}`,
          origin: `http://rebind.attacker.example:${port}`,
          "sec-fetch-site": "same-origin",
          "sec-fetch-mode": "cors",
        },
      });
      expect(answer.status).toBe(401);
      expect(answer.text).toMatch(/DNS rebinding/);
    }
  });

  it("lets its own pages, and clients that are not browsers, through", async () => {
    const own = await send(served.url, {
      method: "GET",
      path: "/health",
      headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" },
    });
    expect(own.status).toBe(200);
    const sameOrigin = await train({
      origin: `http://127.0.0.1:${port}`,
      "sec-fetch-site": "same-origin",
    });
    expect(sameOrigin.status).not.toBe(401);
    const plain = await train({});
    expect(plain.status).not.toBe(401);
    expect((await send(served.url, { method: "GET", path: "/health" })).status).toBe(200);
  });
});
