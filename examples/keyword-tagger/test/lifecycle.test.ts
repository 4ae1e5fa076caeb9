import { ValidationError } from "@trainable/core";
import type { TaggerOutput } from "@trainable/plugin-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeywordModel } from "../src/index.js";
import { file, setup } from "./helpers.js";

let env: Awaited<ReturnType<typeof setup>>;
beforeEach(async () => {
  env = await setup();
});
afterEach(async () => {
  await env.cleanup();
});

const tagsOf = (output: unknown) =>
  (output as TaggerOutput).file.blocks.map((block) =>
    (block.tags ?? []).map((t) => `${t.kind}:${t.name}@${t.startIdx}-${t.endIdx}`),
  );

describe("keyword tagger through the local engine", () => {
  it("trains, moves default, and tags text with the trained keywords", async () => {
    const { engine, store } = env;
    await engine.createInstance({
      id: "tagger",
      plugin: "keyword-tagger",
      config: { tagKind: "kw" },
    });
    const task = await engine.train(
      "tagger",
      { trainingParams: { keywords: ["spam", "offer", "Spam"] } },
      { handle: "v1" },
    );
    expect(task.state).toBe("succeeded");
    expect(task.output?.trainingResults).toEqual({ keywordCount: 2, duplicatesDropped: 1 });
    expect(task.progress).toEqual({ epoch: 1, of: 1, fraction: 1 });
    expect(task.checkpoint?.handle).toBe("v1");
    expect(task.output?.archivePath).toMatch(
      /^examples\/tagger\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\.gz)?$/,
    );

    const refs = await store.list({ pluginInstanceId: "tagger" });
    const v1 = refs.find((r) => r.handle === "v1");
    const def = refs.find((r) => r.handle === "default");
    expect(def?.digest).toBe(v1?.digest);
    expect(v1?.fileCount).toBe(1);
    const manifest = await store.readManifest({ pluginInstanceId: "tagger", handle: "v1" });
    expect(manifest.files.map((f) => f.path)).toEqual(["keywords.json"]);

    const output = await engine.run("tagger", file("Buy SPAM now: a special offer!", "nothing"));
    expect(tagsOf(output)).toEqual([["kw:spam@4-8", "kw:offer@24-29"], []]);
  });

  it("serves the new model after a second training with other keywords", async () => {
    const { engine } = env;
    await engine.createInstance({ id: "tagger", plugin: "keyword-tagger" });
    await engine.train("tagger", { trainingParams: { keywords: ["cat"] } }, { handle: "v1" });
    const text = file("The cat chased the dog.");
    expect(tagsOf(await engine.run("tagger", text))).toEqual([["keyword:cat@4-7"]]);

    const second = await engine.train(
      "tagger",
      { trainingParams: { keywords: "dog, chased" } },
      { handle: "v2" },
    );
    expect(second.state).toBe("succeeded");
    expect(tagsOf(await engine.run("tagger", text))).toEqual([
      ["keyword:chased@8-14", "keyword:dog@19-22"],
    ]);
    // The old checkpoint is still there, by handle.
    expect(tagsOf(await engine.run("tagger", text, { handle: "v1" }))).toEqual([
      ["keyword:cat@4-7"],
    ]);
  });

  it("a model loaded elsewhere sees a moved default after revalidation", async () => {
    const { engine, store } = env;
    const { createModelCache } = await import("@trainable/cache");
    const other = createModelCache({
      store,
      diskDir: false,
      revalidateMs: 50,
      // Strict: past revalidateMs, a call waits for the store (the default serves the known
      // version once more while it asks in the background).
      staleWhileRevalidateMs: 0,
    });
    await engine.createInstance({ id: "tagger", plugin: "keyword-tagger" });
    await engine.train("tagger", { trainingParams: { keywords: ["alpha"] } });
    const first = await KeywordModel.loadRemote({
      store,
      pluginInstanceId: "tagger",
      cache: other,
    });
    expect(first.keywords).toEqual(["alpha"]);
    await engine.train("tagger", { trainingParams: { keywords: ["beta"] } });
    await new Promise((r) => setTimeout(r, 80));
    const second = await KeywordModel.loadRemote({
      store,
      pluginInstanceId: "tagger",
      cache: other,
    });
    expect(second.keywords).toEqual(["beta"]);
    expect(first.keywords).toEqual(["alpha"]);
  });

  it("fails a training without keywords with an error naming the field", async () => {
    const { engine, store } = env;
    await engine.createInstance({ id: "tagger", plugin: "keyword-tagger" });
    const task = await engine.train("tagger", { trainingParams: { words: ["x"] } });
    expect(task.state).toBe("failed");
    expect(task.error?.code).toBe("VALIDATION");
    expect(task.error?.message).toContain("trainingParams.keywords");
    const none = await engine.train("tagger", {});
    expect(none.error?.message).toContain("trainingParams.keywords");
    const empty = await engine.train("tagger", { trainingParams: { keywords: [" "] } });
    expect(empty.error?.message).toContain("trainingParams.keywords[0]");
    expect(await store.list({ pluginInstanceId: "tagger" })).toEqual([]);
  });

  it("rejects a bad instance config, naming the field", async () => {
    const error = await env.engine
      .createInstance({ id: "bad", plugin: "keyword-tagger", config: { tagKind: "" } })
      .catch((e: unknown) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("tagKind");
  });

  it("honours caseSensitive", async () => {
    const { engine } = env;
    await engine.createInstance({
      id: "strict",
      plugin: "keyword-tagger",
      config: { caseSensitive: true },
    });
    await engine.train("strict", { trainingParams: { keywords: ["Go", "go"] } });
    expect(tagsOf(await engine.run("strict", file("Go go GO")))).toEqual([
      ["keyword:Go@0-2", "keyword:go@3-5"],
    ]);
  });
});
