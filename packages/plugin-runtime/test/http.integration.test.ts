import type { PluginRequest } from "@trainable/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createPluginApp,
  type ServedPlugin,
  servePlugin,
  type TaggerInput,
  type TaggerOutput,
  TaggerPluginService,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import {
  ExternalTagger,
  KeywordModel,
  KeywordTagger,
  LengthClassifier,
} from "./__fixtures__/plugins.mjs";

/** A tagger that fails: with a TrainableError-free crash whose cause holds a secret. */
class CrashingTagger extends TaggerPluginService {
  async run(_request: PluginRequest<TaggerInput>): Promise<TaggerOutput> {
    const error = new Error("connection to db failed", {
      cause: new Error("postgres://admin:secret-password@db/prod"),
    });
    throw error;
  }
}

async function post(url: string, body: unknown, init: RequestInit = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON
  return { status: response.status, text, json: JSON.parse(text) as Record<string, any> };
}

const runRequest = (instance: string, texts: string[], id?: string) => ({
  data: {
    file: { ...(id ? { id } : {}), blocks: texts.map((text, i) => ({ id: `b${i}`, text })) },
  },
  context: { pluginInstanceId: instance, workspace: "ws" },
});

describe("plugin HTTP server", () => {
  let env: TestEnv;
  let served: ServedPlugin;

  beforeAll(async () => {
    env = await createTestEnv();
    const model = new KeywordModel();
    model.keywords = ["spam"];
    await model.saveRemote({ store: env.store, pluginInstanceId: "tagger-1" });
    const app = createPluginApp(new KeywordTagger(), {
      store: env.store,
      cache: env.cache,
      instances: new Map([
        ["tagger-1", { config: { tagKind: "kw" } }],
        ["untrained", { config: {} }],
      ]),
      bodyLimit: 4096,
      logger: silentLogger,
    });
    served = await servePlugin(app, { port: 0 });
  });

  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
  });

  it("answers GET /health", async () => {
    const response = await fetch(`${served.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ok",
      plugin: "KeywordTagger",
      trainable: true,
      routes: expect.arrayContaining(["POST /run", "POST /tag", "POST /train"]),
    });
  });

  it("serves POST /run and its alias POST /tag with the instance's model and config", async () => {
    for (const route of ["run", "tag"]) {
      const { status, json } = await post(
        `${served.url}/${route}`,
        runRequest("tagger-1", ["no", "buy spam now"]),
      );
      expect(status).toBe(200);
      expect(json.status).toEqual({ state: "succeeded" });
      expect(json.data.file.blocks[1].tags).toEqual([
        { kind: "kw", name: "spam", startIdx: 4, endIdx: 8 },
      ]);
      expect(json.data.file.blocks[0].tags).toEqual([]);
      expect(json.data.file.tags).toEqual([
        { kind: "model", name: "keywords", value: { count: 1 } },
      ]);
    }
  });

  it("rejects invalid JSON with 400 naming the problem, and keeps serving", async () => {
    const bad = await post(`${served.url}/run`, '{"data": {"file": ');
    expect(bad.status).toBe(400);
    expect(bad.json.status).toMatchObject({ state: "failed", statusCode: "VALIDATION" });
    expect(bad.json.error.message).toMatch(/Invalid JSON body/);
    const empty = await post(`${served.url}/run`, "");
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toMatch(/Empty request body/);
    const good = await post(`${served.url}/run`, runRequest("tagger-1", ["spam"]));
    expect(good.status).toBe(200);
  });

  it("rejects wrong types with 400 listing every bad field", async () => {
    const { status, json } = await post(`${served.url}/tag`, {
      data: { file: { blocks: [{ text: 5 }, { text: "ok", tags: [{ name: "x" }] }] } },
      context: { pluginInstanceId: "tagger-1" },
      isStatusCheck: "yes",
    });
    expect(status).toBe(400);
    expect(json.error.code).toBe("VALIDATION");
    const paths = (json.error.issues as Array<{ path: string }>).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "data.file.blocks[0].text",
        "data.file.blocks[1].tags[0].kind",
        "isStatusCheck",
      ]),
    );
    expect(json.error.message).toContain("data.file.blocks[0].text");
  });

  it("rejects a bad or missing instance id, an unknown instance, and another workspace", async () => {
    const missing = await post(`${served.url}/run`, { data: runRequest("x", ["a"]).data });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain("context.pluginInstanceId");
    const invalid = await post(`${served.url}/run`, runRequest("../etc", ["a"]));
    expect(invalid.status).toBe(400);
    const unknown = await post(`${served.url}/run`, runRequest("nobody", ["a"]));
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "NOT_FOUND" });
    expect(unknown.json.error.message).toContain('Unknown plugin instance "nobody"');
    const workspace = await post(`${served.url}/run`, {
      ...runRequest("tagger-1", ["a"]),
      context: { pluginInstanceId: "tagger-1", workspace: "other" },
    });
    expect(workspace.status).toBe(400);
    expect(workspace.json.error.message).toContain("context.workspace");
  });

  it("answers 404 when the instance has no checkpoint yet", async () => {
    const { status, json } = await post(`${served.url}/run`, runRequest("untrained", ["a"]));
    expect(status).toBe(404);
    expect(json.status.state).toBe("failed");
    expect(json.error.code).toBe("NOT_FOUND");
  });

  it("rejects oversized bodies with 413, with or without a content-length", async () => {
    const big = runRequest("tagger-1", ["x".repeat(10_000)]);
    const sized = await post(`${served.url}/run`, big);
    expect(sized.status).toBe(413);
    expect(sized.json.error.message).toMatch(/too large: the limit is 4096 bytes/);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
        controller.close();
      },
    });
    const chunked = await post(`${served.url}/run`, "", {
      body,
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await post(`${served.url}/run`, runRequest("tagger-1", ["spam"]))).status).toBe(200);
  });

  it("answers unknown routes and non-trainable routes with JSON errors", async () => {
    const { status, json } = await post(`${served.url}/nope`, {});
    expect(status).toBe(404);
    expect(json.error.message).toContain("No route POST /nope");
  });

  it("trains over POST /train, saves, moves default, and the next /run uses the new model", async () => {
    const { status, json } = await post(`${served.url}/train`, {
      data: {
        pluginInstance: "tagger-1",
        trainingEpochs: 2,
        trainingParams: { keywords: ["ham", "eggs"] },
      },
      context: { pluginInstanceId: "tagger-1" },
      save: { handle: "v2" },
    });
    expect(status).toBe(200);
    expect(json.status).toMatchObject({ state: "succeeded" });
    expect(json.status.output).toMatchObject({ handle: "v2", setAsDefault: true });
    expect(json.data.archivePath).toMatch(/\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\.gz)?$/);
    expect(json.data.trainingResults).toEqual({ keywordCount: 2, epochs: 2 });
    // Post-updates in their checked, normalized form (PostUpdate): the short form a model
    // posts (`{ trainingProgress }`) arrives as `{ output: { trainingProgress } }`.
    expect(json.updates).toEqual([
      { output: { trainingProgress: { epoch: 1, of: 2, fraction: 0.5 } } },
      { output: { trainingProgress: { epoch: 2, of: 2, fraction: 1 } } },
    ]);
    const ref = await env.store.resolve({ pluginInstanceId: "tagger-1" });
    expect(ref.archivePath).toBe(json.data.archivePath);
    expect(ref.metadata.trainingResults).toEqual({ keywordCount: 2, epochs: 2 });
    const run = await post(`${served.url}/tag`, runRequest("tagger-1", ["ham and spam"]));
    expect(run.json.data.file.blocks[0].tags.map((t: { name: string }) => t.name)).toEqual(["ham"]);
    // An older checkpoint is still served by handle.
    const old = await post(`${served.url}/tag?handle=default`, runRequest("tagger-1", ["spam"]));
    expect(old.json.data.file.blocks[0].tags).toEqual([]);
  });

  it("answers POST /getTrainingParameters with the plugin's amended parameters", async () => {
    const { status, json } = await post(`${served.url}/getTrainingParameters`, {
      data: { pluginInstance: "tagger-1", trainingParams: { a: 1 } },
      context: { pluginInstanceId: "tagger-1" },
    });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(json.data).toEqual({
      trainingEpochs: 2,
      trainingParams: { a: 1, amendedBy: "KeywordTagger" },
    });
  });

  it("fails a training with a TrainableError as a failed task with its code", async () => {
    const { status, json } = await post(`${served.url}/train`, {
      data: { pluginInstance: "tagger-1", trainingParams: { fail: "loss is NaN" } },
      context: { pluginInstanceId: "tagger-1" },
      status: { taskId: "task-1", state: "waiting" },
    });
    expect(status).toBe(500);
    expect(json.status).toMatchObject({
      taskId: "task-1",
      state: "failed",
      statusCode: "TRAINING",
      statusMessage: "[test] loss is NaN",
    });
  });

  it("never echoes a crash's stack, cause or secrets", async () => {
    const { status, json, text } = await post(`${served.url}/train`, {
      data: { pluginInstance: "tagger-1", trainingParams: { crash: true } },
      context: { pluginInstanceId: "tagger-1" },
    });
    expect(status).toBe(500);
    expect(json.error.code).toBe("INTERNAL");
    expect(json.status.statusMessage).toMatch(/Internal error/);
    expect(text).not.toMatch(/hunter2|abc123|secret|boom|\.mjs|at /);
  });

  it("rejects a status check without a status", async () => {
    const { status, json } = await post(`${served.url}/train`, {
      data: { pluginInstance: "tagger-1" },
      context: { pluginInstanceId: "tagger-1" },
      isStatusCheck: true,
    });
    expect(status).toBe(400);
    expect(json.error.message).toContain("status.taskId");
  });

  it("refuses instance registration unless allowed", async () => {
    const response = await fetch(`${served.url}/instances/new-one`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ config: {} }),
    });
    expect(response.status).toBe(501);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /registration is disabled/,
    );
  });
});

describe("plugin HTTP server: other plugins, configs and shutdown", () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await createTestEnv();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it("serves a classifier at /classify", async () => {
    const served = await servePlugin(new LengthClassifier(), { port: 0, store: env.store });
    try {
      const { status, json } = await post(`${served.url}/classify`, {
        data: { texts: ["hi", "a much longer text"] },
      });
      expect(status).toBe(200);
      expect(json.data.results).toEqual([
        { labels: [{ label: "short", score: 1 }] },
        { labels: [{ label: "long", score: 1 }] },
      ]);
      const bad = await post(`${served.url}/classify`, { data: { texts: [] } });
      expect(bad.status).toBe(400);
      expect(bad.json.error.message).toContain("data.texts");
    } finally {
      await served.close();
    }
  });

  it("answers a crashing plugin's /run with a generic 500 and logs the details server-side", async () => {
    const logged: unknown[] = [];
    const served = await servePlugin(new CrashingTagger(), {
      port: 0,
      store: env.store,
      logger: { error: (_message, error) => logged.push(error) },
    });
    try {
      const { status, json, text } = await post(`${served.url}/run`, runRequest("x", ["a"]));
      expect(status).toBe(500);
      expect(json.status).toMatchObject({ state: "failed", statusCode: "INTERNAL" });
      expect(text).not.toMatch(/secret|password|postgres|db failed|at /);
      expect(logged).toHaveLength(1);
      expect((await post(`${served.url}/run`, runRequest("x", ["a"]))).status).toBe(500);
      expect((await fetch(`${served.url}/health`)).status).toBe(200);
    } finally {
      await served.close();
    }
  });

  it("validates instance configs: at registration (4xx naming the field) and for static instances", async () => {
    const served = await servePlugin(new ExternalTagger(), {
      port: 0,
      store: env.store,
      allowInstanceRegistration: true,
      instances: { broken: { config: { jobsDir: 42 } } },
      logger: silentLogger,
    });
    try {
      const put = (id: string, body: unknown) =>
        fetch(`${served.url}/instances/${id}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const bad = await put("ext-1", { config: { tagKind: "" } });
      expect(bad.status).toBe(400);
      const body = (await bad.json()) as {
        error: { message: string; issues: Array<{ path: string }> };
      };
      expect(body.error.issues.map((i) => i.path).sort()).toEqual(["jobsDir", "tagKind"]);
      expect(body.error.message).toContain("ExternalTagger config");
      const good = await put("ext-1", { config: { jobsDir: env.dir("jobs") } });
      expect(good.status).toBe(200);
      const broken = await post(`${served.url}/run`, runRequest("broken", ["a"]));
      expect(broken.status).toBe(400);
      expect(broken.json.error.message).toContain("jobsDir");
      const badId = await put("..", { config: {} });
      expect(badId.status).toBe(404);
    } finally {
      await served.close();
    }
  });

  it("a /run whose client hangs up sees its signal abort (made on first use, even after the hang-up)", async () => {
    const seen: string[] = [];
    /** Reads its signal at once, or only after waiting `late` ms; reports when it aborts. */
    class WaitingTagger extends TaggerPluginService {
      async run(
        request: PluginRequest<TaggerInput>,
        context: { signal?: AbortSignal },
      ): Promise<TaggerOutput> {
        const late = request.data?.file.id === "late";
        if (late) await new Promise((resolve) => setTimeout(resolve, 300));
        const signal = context.signal;
        if (!signal) throw new Error("no signal");
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener("abort", () => resolve(), { once: true });
          setTimeout(resolve, 5000).unref();
        });
        seen.push(`${late ? "late" : "early"}: ${signal.aborted ? "aborted" : "not aborted"}`);
        return { file: request.data!.file };
      }
    }
    const waiting = await servePlugin(
      createPluginApp(new WaitingTagger(), { store: env.store, logger: silentLogger }),
      { port: 0 },
    );
    try {
      for (const id of ["early", "late"]) {
        const hangUp = new AbortController();
        const call = fetch(`${waiting.url}/run`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(runRequest("any", ["x"], id)),
          signal: hangUp.signal,
        }).catch(() => "hung up");
        await new Promise((resolve) => setTimeout(resolve, 100));
        hangUp.abort();
        expect(await call).toBe("hung up");
      }
      await expect.poll(() => seen.length, { timeout: 3000 }).toBe(2);
      expect(seen.sort()).toEqual(["early: aborted", "late: aborted"]);
    } finally {
      await waiting.close();
    }
  });

  it("shuts down gracefully: in-flight requests finish, new connections are refused", async () => {
    const model = new KeywordModel();
    model.keywords = ["slow"];
    await model.saveRemote({ store: env.store, pluginInstanceId: "slowpoke" });
    const served = await servePlugin(new KeywordTagger(), {
      port: 0,
      store: env.store,
      cache: env.cache,
    });
    const inFlight = post(`${served.url}/run`, runRequest("slowpoke", ["slow"], "slow-400"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(served.inFlight).toBe(1);
    const closing = served.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.json.data.file.blocks[0].tags[0].name).toBe("slow");
    await closing;
    await expect(fetch(`${served.url}/health`)).rejects.toThrow();
  });
});
