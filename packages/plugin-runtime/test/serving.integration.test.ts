// `/run` served from memory (the fast path: `cache.acquireCached`), over a real socket with a
// real store and cache on their default revalidation (the shared test env asks the store on
// every call, which never takes this path).
import { createModelCache, type ModelCacheImpl } from "@trainable/cache";
import type { PluginRequest } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  createLocalPluginClient,
  createPluginApp,
  type PluginRunContext,
  type ServedPlugin,
  servePlugin,
  type TaggerInput,
  type TaggerOutput,
  TrainableTaggerPluginService,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { KeywordModel, KeywordTagger } from "./__fixtures__/plugins.mjs";

/** A keyword model that counts its disposals and the `run`s using it right now. */
class TrackedModel extends KeywordModel {
  inUse = 0;
  disposed = 0;
  disposedInUse = false;
  override dispose(): void {
    this.disposed++;
    if (this.inUse > 0) this.disposedInUse = true;
  }
}

/** Tags like the fixture tagger; a block text "wait" holds the request until `release()`. */
class GatedTagger extends TrainableTaggerPluginService<{ tagKind: string }, TrackedModel> {
  configSchema = z.object({ tagKind: z.string().min(1).default("keyword") });
  modelClass = TrackedModel;
  models: TrackedModel[] = [];
  waiting: Array<() => void> = [];
  invalidOutput = false;
  async runWithModel(
    request: PluginRequest<TaggerInput>,
    model: TrackedModel,
    context: PluginRunContext<{ tagKind: string }>,
  ): Promise<TaggerOutput> {
    if (!this.models.includes(model)) this.models.push(model);
    model.inUse++;
    try {
      const file = request.data?.file ?? { blocks: [] };
      if (file.blocks.some((b) => b.text === "wait")) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      }
      const kind = this.invalidOutput ? "" : (context.instance?.config.tagKind ?? "keyword");
      return {
        file: {
          ...file,
          blocks: file.blocks.map((b) => ({
            ...b,
            tags: model.keywords.filter((k) => b.text.includes(k)).map((name) => ({ kind, name })),
          })),
        },
      };
    } finally {
      model.inUse--;
    }
  }
}

async function run(url: string, texts: string[], query = "") {
  const response = await fetch(`${url}/run${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      data: { file: { blocks: texts.map((text, i) => ({ id: `b${i}`, text })) } },
      context: { pluginInstanceId: "inst" },
    }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

const tagsOf = (json: Record<string, unknown>) =>
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON
  (json as any).data.file.blocks.map((b: { tags: unknown[] }) => b.tags);

describe("serving /run from memory", () => {
  let env: TestEnv;
  let cache: ModelCacheImpl;
  let served: ServedPlugin | undefined;

  async function save(keywords: string[], handle?: string) {
    const model = new KeywordModel();
    model.keywords = keywords;
    return model.saveRemote({
      store: env.store,
      pluginInstanceId: "inst",
      handle,
      setAsDefault: handle === undefined,
      cache,
    });
  }

  beforeEach(async () => {
    env = await createTestEnv();
    cache = createModelCache({ store: env.store, diskDir: env.dir("serving-cache") });
  });
  afterEach(async () => {
    await served?.close();
    served = undefined;
    await cache.close();
    await env.cleanup();
  });

  it("after the first request the model is leased from memory: no store call, one load, hits counted", async () => {
    await save(["spam"]);
    const tagger = new GatedTagger();
    served = await servePlugin(tagger, {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: { tagKind: "kw" } } },
    });
    expect(tagsOf((await run(served.url, ["spam here"])).json)).toEqual([
      [{ kind: "kw", name: "spam" }],
    ]);
    const resolves = vi.spyOn(env.store, "resolve");
    const acquires = vi.spyOn(cache, "acquire");
    const before = cache.stats();
    for (let i = 0; i < 5; i++) {
      expect((await run(served.url, ["spam", "ham"])).status).toBe(200);
    }
    expect(resolves).not.toHaveBeenCalled();
    expect(acquires).not.toHaveBeenCalled();
    expect(cache.stats().hits - before.hits).toBe(5);
    expect(cache.stats().loads).toBe(1);
    expect(tagger.models).toHaveLength(1);
  });

  it("a model leased from memory is never disposed during a /run: a save moving default is served next, the old model disposed once its request ends", async () => {
    await save(["spam"]);
    const tagger = new GatedTagger();
    served = await servePlugin(tagger, {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
    });
    await run(served.url, ["warm"]);
    const held = run(served.url, ["wait", "spam"]); // from memory, then held
    await vi.waitFor(() => expect(tagger.waiting).toHaveLength(1));
    const old = tagger.models[0] as TrackedModel;
    await save(["ham"]); // tells the cache: the old version leaves memory
    expect(old.disposed).toBe(0);
    expect(tagsOf((await run(served.url, ["ham", "spam"])).json)).toEqual([
      [{ kind: "keyword", name: "ham" }],
      [],
    ]);
    tagger.waiting.shift()?.();
    expect(tagsOf((await held).json)).toEqual([[], [{ kind: "keyword", name: "spam" }]]);
    expect(old.disposed).toBe(1);
    expect(old.disposedInUse).toBe(false);
  });

  it("a handle moved behind the cache's back is served once revalidated, never mixed", async () => {
    await save(["spam"]);
    let t = 1_000_000;
    await cache.close();
    cache = createModelCache({
      store: env.store,
      diskDir: env.dir("serving-cache"),
      revalidateMs: 1000,
      now: () => t,
    });
    served = await servePlugin(new GatedTagger(), {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
    });
    expect(tagsOf((await run(served.url, ["spam"])).json)).toEqual([
      [{ kind: "keyword", name: "spam" }],
    ]);
    const other = new KeywordModel();
    other.keywords = ["ham"];
    await other.saveRemote({ store: env.store, pluginInstanceId: "inst" }); // no cache told
    expect(tagsOf((await run(served.url, ["spam"])).json)).toHaveLength(1); // still fresh: old
    expect(tagsOf((await run(served.url, ["spam"])).json)[0]).toEqual([
      { kind: "keyword", name: "spam" },
    ]);
    t += 1000; // due: served at once while the store is asked, then the new version
    const url = served.url;
    await run(url, ["spam"]);
    await vi.waitFor(async () => {
      expect(tagsOf((await run(url, ["spam", "ham"])).json)).toEqual([
        [],
        [{ kind: "keyword", name: "ham" }],
      ]);
    });
  });

  it("an instance whose entry is replaced is served with its new config; ?handle= picks another checkpoint, a bad one is a 400", async () => {
    await save(["spam"]);
    await save(["ham"], "other");
    const instances = new Map([["inst", { config: { tagKind: "first" } }]]);
    served = await servePlugin(new KeywordTagger(), {
      port: 0,
      store: env.store,
      cache,
      instances,
    });
    const kinds = async (query = "") =>
      tagsOf((await run(served?.url as string, ["spam ham"], query)).json)[0].map(
        (t: { kind: string; name: string }) => `${t.kind}:${t.name}`,
      );
    expect(await kinds()).toEqual(["first:spam"]);
    expect(await kinds()).toEqual(["first:spam"]);
    instances.set("inst", { config: { tagKind: "second" } });
    expect(await kinds()).toEqual(["second:spam"]);
    expect(await kinds("?handle=other")).toEqual(["second:ham"]);
    expect(await kinds("?handle=other")).toEqual(["second:ham"]);
    expect(await kinds("?x=1")).toEqual(["second:spam"]);
    const bad = await run(served.url, ["spam"], "?handle=..%2Fother");
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("handle (query)");
  });

  it("with checkOutput, the output is validated, also when the model comes from memory", async () => {
    await save(["spam"]);
    const tagger = new GatedTagger();
    served = await servePlugin(tagger, {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
      logger: silentLogger,
      checkOutput: true,
    });
    expect((await run(served.url, ["spam"])).status).toBe(200);
    tagger.invalidOutput = true;
    const { status, json } = await run(served.url, ["spam"]);
    expect(status).toBe(500);
    expect(json.status).toMatchObject({ state: "failed", statusCode: "INTERNAL" });
    expect(json.error.message).toContain("invalid output");
    expect(json.error.message).toContain("file.blocks[0].tags[0].kind");
  });

  it("by default a served answer is sent as the plugin returned it; in-process it is checked", async () => {
    await save(["spam"]);
    const tagger = new GatedTagger();
    tagger.invalidOutput = true;
    served = await servePlugin(tagger, {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
      logger: silentLogger,
    });
    const { status, json } = await run(served.url, ["spam"]);
    expect(status).toBe(200);
    expect(tagsOf(json)).toEqual([[{ kind: "", name: "spam" }]]);
    const local = createLocalPluginClient(tagger, {
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
    });
    const request = {
      data: { file: { blocks: [{ text: "spam" }] } },
      context: { pluginInstanceId: "inst" },
    };
    await expect(local.run(request)).rejects.toThrow(
      /invalid output.*file\.blocks\[0\]\.tags\[0\]\.kind/,
    );
    expect(() => createPluginApp(local, { store: env.store, checkOutput: true } as never)).toThrow(
      /checkOutput/,
    );
  });

  it("a model class with its own useRemote is served through it on every request", async () => {
    await save(["spam"]);
    const calls: string[] = [];
    class OwnUse extends TrackedModel {
      static override async useRemote<M, R>(
        options: Parameters<typeof KeywordModel.useRemote>[0],
        fn: (model: M) => R | Promise<R>,
      ): Promise<R> {
        calls.push("useRemote");
        // biome-ignore lint/suspicious/noExplicitAny: forwards to the inherited implementation
        return (KeywordModel.useRemote as any).call(this, options, fn);
      }
    }
    const tagger = new GatedTagger();
    (tagger as { modelClass: unknown }).modelClass = OwnUse;
    served = await servePlugin(tagger, {
      port: 0,
      store: env.store,
      cache,
      instances: { inst: { config: {} } },
    });
    for (let i = 0; i < 3; i++) expect((await run(served.url, ["spam"])).status).toBe(200);
    expect(calls).toEqual(["useRemote", "useRemote", "useRemote"]);
  });
});
