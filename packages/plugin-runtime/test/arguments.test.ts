import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModelCache } from "@trainable/cache";
import { ValidationError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalEngine, createPluginApp, servePlugin } from "../src/index.js";
import { KeywordTagger } from "./__fixtures__/plugins.mjs";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "runtime-arguments-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function refusal(call: () => unknown): Promise<{ message: string; field: string }> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  const v = error as ValidationError;
  return { message: v.message, field: v.issues[0]?.path ?? "" };
}

describe("factory argument checks", () => {
  it("createLocalEngine: an un-awaited store, a store as the cache, no dataDir", async () => {
    const pending = createCheckpointStore({ url: "memory://", workspace: "w" });
    let r = await refusal(() => createLocalEngine({ store: pending as never, dataDir }));
    expect(r.field).toBe("store");
    expect(r.message).toMatch(/store is a Promise: did you forget await\?/);
    const store = await pending;
    r = await refusal(() => createLocalEngine({ store, cache: store as never, dataDir }));
    expect(r.field).toBe("cache");
    expect(r.message).toMatch(/cache is a checkpoint store, not a model cache/);
    r = await refusal(() => createLocalEngine({ store } as never));
    expect(r.field).toBe("dataDir");
    r = await refusal(() => createLocalEngine(undefined as never));
    expect(r.field).toBe("options");
    await store.close();
  });

  it("createPluginApp: a class for the service, an un-awaited store", async () => {
    const store = await createCheckpointStore({ url: "memory://", workspace: "w" });
    let r = await refusal(() => createPluginApp(KeywordTagger as never, { store }));
    expect(r.field).toBe("service");
    expect(r.message).toMatch(
      /service is a class \(KeywordTagger\): pass an instance, new KeywordTagger\(\)/,
    );
    r = await refusal(() =>
      createPluginApp(new KeywordTagger(), { store: Promise.resolve(store) as never }),
    );
    expect(r.field).toBe("store");
    expect(r.message).toMatch(/store is a Promise: did you forget await\?/);
    r = await refusal(() =>
      createPluginApp(new KeywordTagger(), {
        store,
        cache: Promise.resolve(createModelCache({ store, diskDir: false })) as never,
      }),
    );
    expect(r.field).toBe("cache");
    r = await refusal(() => createPluginApp(undefined as never, { store }));
    expect(r.message).toMatch(/expected a plugin service instance .*got undefined/);
    await store.close();
  });

  it("servePlugin: a promise of a plugin, a class, something else", async () => {
    let r = await refusal(() => servePlugin(Promise.resolve(new KeywordTagger()) as never));
    expect(r.field).toBe("target");
    expect(r.message).toMatch(/target is a Promise: did you forget await\?/);
    r = await refusal(() => servePlugin(KeywordTagger as never));
    expect(r.message).toMatch(/pass an instance, new KeywordTagger\(\)/);
    r = await refusal(() => servePlugin({} as never));
    expect(r.message).toMatch(/expected an app from createPluginApp/);
  });
});
