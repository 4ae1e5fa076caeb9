import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeCheckpointStore, FakeModelCache } from "../__fixtures__/fake-checkpoint-store.js";
import { CancelledError } from "../errors/cancelled-error.js";
import { NotFoundError } from "../errors/not-found-error.js";
import { TrainingError } from "../errors/training-error.js";
import { ValidationError } from "../errors/validation-error.js";
import type { CheckpointRef } from "../ports/checkpoint-ref.js";
import type { CacheLoadOptions, ModelLease } from "../ports/model-cache.js";
import type { InvocableResponse } from "../schemas/invocable-response.js";
import type { PluginRequest } from "../schemas/plugin-request.js";
import type { TrainPluginInput } from "../schemas/train-plugin-input.js";
import type { TrainPluginOutput } from "../schemas/train-plugin-output.js";
import type { TrainContext } from "./train-context.js";
import { TrainableModel } from "./trainable-model.js";

interface TaggerConfig {
  labels: string[];
  threshold: number;
}

/** A tiny model: keyword weights in `model.json`, the vocabulary in `vocab/words.txt`. */
class KeywordTagger extends TrainableModel<TaggerConfig> {
  events: string[] = [];
  configAtLoad: TaggerConfig | undefined;
  loadedFrom: string | undefined;
  weights: Record<string, number> = {};

  override receiveConfig(config: TaggerConfig): void {
    this.events.push("receiveConfig");
    super.receiveConfig(config);
  }

  async saveToFolder(dir: string): Promise<void> {
    await writeFile(join(dir, "model.json"), JSON.stringify({ weights: this.weights }));
    await mkdir(join(dir, "vocab"));
    await writeFile(join(dir, "vocab", "words.txt"), Object.keys(this.weights).sort().join("\n"));
  }

  async loadFromFolder(dir: string): Promise<void> {
    this.events.push("loadFromFolder");
    this.configAtLoad = this.config;
    this.loadedFrom = dir;
    const json = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as {
      weights: Record<string, number>;
    };
    const words = (await readFile(join(dir, "vocab", "words.txt"), "utf8")).split("\n");
    expect(words).toEqual(Object.keys(json.weights).sort());
    this.weights = json.weights;
  }

  async train(
    request: PluginRequest<TrainPluginInput>,
    context: TrainContext,
  ): Promise<InvocableResponse<TrainPluginOutput>> {
    const epochs = request.data?.trainingEpochs ?? 1;
    const words = (request.data?.trainingParams?.words as string[] | undefined) ?? [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      CancelledError.throwIfAborted(context.signal, "Training");
      for (const word of words) this.weights[word] = (this.weights[word] ?? 0) + 1;
      context.postUpdate({ trainingProgress: { epoch, of: epochs } });
    }
    return {
      data: {
        trainingResults: { words: words.length },
        inferenceParams: request.data?.inferenceParams,
      },
      status: { state: "succeeded" },
    };
  }

  score(text: string): number {
    return text.split(/\s+/).reduce((sum, word) => sum + (this.weights[word] ?? 0), 0);
  }
}

class StrictTagger extends KeywordTagger {}

const config: TaggerConfig = { labels: ["spam"], threshold: 0.5 };

function trained(weights: Record<string, number> = { free: 2, winner: 3 }): KeywordTagger {
  const model = new KeywordTagger();
  model.weights = { ...weights };
  return model;
}

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

let store: FakeCheckpointStore;
let temp: string;

beforeEach(async () => {
  store = await FakeCheckpointStore.create();
  temp = await mkdtemp(join(tmpdir(), "trainable-core-model-"));
});

afterEach(async () => {
  await store.destroy();
  await rm(temp, { recursive: true, force: true });
});

describe("saveToFolder / loadFromLocalCheckpoint", () => {
  it("round-trips through a real folder", async () => {
    const folder = join(temp, "ckpt");
    await mkdir(folder);
    await trained().saveToFolder(folder);
    expect(JSON.parse(await readFile(join(folder, "model.json"), "utf8"))).toEqual({
      weights: { free: 2, winner: 3 },
    });

    const model = await KeywordTagger.loadFromLocalCheckpoint({ folder, config });
    expect(model).toBeInstanceOf(KeywordTagger);
    expect(model.weights).toEqual({ free: 2, winner: 3 });
    expect(model.score("free winner")).toBe(5);
    expect(model.config).toEqual(config);
    expect(model.configAtLoad).toEqual(config);
    expect(model.events).toEqual(["receiveConfig", "loadFromFolder"]);
    expect(model.loadedFrom).toBe(folder);
  });

  it("does not call receiveConfig without a config", async () => {
    const folder = join(temp, "ckpt");
    await mkdir(folder);
    await trained().saveToFolder(folder);
    const model = await KeywordTagger.loadFromLocalCheckpoint({ folder });
    expect(model.events).toEqual(["loadFromFolder"]);
    expect(model.config).toBeUndefined();
  });

  it("builds the subclass it is called on", async () => {
    const folder = join(temp, "ckpt");
    await mkdir(folder);
    await trained().saveToFolder(folder);
    const model = await StrictTagger.loadFromLocalCheckpoint({ folder });
    expect(model).toBeInstanceOf(StrictTagger);
  });

  it("rejects when the folder does not hold a checkpoint", async () => {
    const error = await expectRejection(
      KeywordTagger.loadFromLocalCheckpoint({ folder: join(temp, "missing") }),
    );
    expect((error as NodeJS.ErrnoException).code).toBe("ENOENT");
  });
});

describe("saveRemote", () => {
  it("saves to `default` by default and returns the blob key as archivePath", async () => {
    const result = await trained().saveRemote({ store, pluginInstanceId: "my-tagger" });
    const save = store.calls.find((c) => c.method === "save");
    expect(save?.options.handle).toBe("default");
    expect(save?.options.pluginInstanceId).toBe("my-tagger");
    expect(save?.options.setAsDefault).toBe(true);
    expect(result.ref.handle).toBe("default");
    expect(result.archivePath).toBe(result.ref.archivePath);
    expect(result.archivePath).toMatch(/^test-ws\/my-tagger\/blobs\/[a-f0-9]{16}\.tar$/);
    expect(result.uploadedBytes).toBeGreaterThan(0);
    expect(
      JSON.parse(
        await readFile(join(store.handleDir("my-tagger", "default"), "model.json"), "utf8"),
      ),
    ).toEqual({ weights: { free: 2, winner: 3 } });
  });

  it("setAsDefault defaults to true: both the handle and `default` are written", async () => {
    const result = await trained().saveRemote({
      store,
      pluginInstanceId: "my-tagger",
      handle: "v1",
    });
    expect(store.calls.filter((c) => c.method === "save")).toHaveLength(1);
    expect(store.calls[0]?.options.setAsDefault).toBe(true);
    expect(result.ref.handle).toBe("v1");
    expect(result.defaultRef?.handle).toBe("default");
    expect(result.defaultRef?.digest).toBe(result.ref.digest);
    for (const handle of ["v1", "default"]) {
      const ref = JSON.parse(
        await readFile(store.refPath("my-tagger", handle), "utf8"),
      ) as CheckpointRef;
      expect(ref.handle).toBe(handle);
      expect(ref.digest).toBe(result.ref.digest);
      expect((await readdir(store.handleDir("my-tagger", handle))).sort()).toEqual([
        "model.json",
        "vocab",
      ]);
    }
  });

  it("setAsDefault: false leaves `default` alone", async () => {
    await trained({ old: 1 }).saveRemote({ store, pluginInstanceId: "my-tagger", handle: "v1" });
    const result = await trained({ new: 1 }).saveRemote({
      store,
      pluginInstanceId: "my-tagger",
      handle: "v2",
      setAsDefault: false,
    });
    expect(store.calls.at(-1)?.options.setAsDefault).toBe(false);
    expect(result.defaultRef).toBeUndefined();
    const model = await KeywordTagger.loadRemote({ store, pluginInstanceId: "my-tagger" });
    expect(model.weights).toEqual({ old: 1 });
    const v2 = await KeywordTagger.loadRemote({
      store,
      pluginInstanceId: "my-tagger",
      handle: "v2",
    });
    expect(v2.weights).toEqual({ new: 1 });
  });

  it("without setAsDefault there is no `default` to load", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p", handle: "v1", setAsDefault: false });
    const error = await expectRejection(KeywordTagger.loadRemote({ store, pluginInstanceId: "p" }));
    expect(NotFoundError.isInstance(error)).toBe(true);
  });

  it("records the model class and the caller's metadata", async () => {
    const result = await trained().saveRemote({
      store,
      pluginInstanceId: "p",
      metadata: { trainingResults: { accuracy: 0.9 }, note: "first" },
    });
    expect(result.ref.metadata).toEqual({
      modelClass: "KeywordTagger",
      trainingResults: { accuracy: 0.9 },
      note: "first",
    });
  });

  it("passes expectedDigest, signal and onProgress to the store", async () => {
    const controller = new AbortController();
    const progress: unknown[] = [];
    const onProgress = (p: unknown) => progress.push(p);
    await trained().saveRemote({
      store,
      pluginInstanceId: "p",
      handle: "v1",
      expectedDigest: null,
      signal: controller.signal,
      onProgress,
    });
    const save = store.calls[0]?.options;
    expect(save?.expectedDigest).toBeNull();
    expect(save?.signal).toBe(controller.signal);
    expect(save?.onProgress).toBe(onProgress);
    expect(progress.length).toBeGreaterThan(0);
  });

  it("hands the store a writer that fills the folder with saveToFolder", async () => {
    const result = await trained().saveRemote({ store, pluginInstanceId: "p" });
    expect(typeof store.calls[0]?.options.write).toBe("function");
    const manifest = await store.readManifest({ pluginInstanceId: "p", ref: result.ref });
    expect(manifest.files.map((f) => f.path)).toEqual(["model.json", "vocab/words.txt"]);
  });

  it("tells the cache about the new handle and the moved default", async () => {
    const cache = new FakeModelCache(store);
    const result = await trained().saveRemote({
      store,
      pluginInstanceId: "p",
      handle: "v1",
      cache,
    });
    expect(cache.notified).toEqual([
      { pluginInstanceId: "p", ref: result.ref },
      { pluginInstanceId: "p", ref: result.defaultRef },
    ]);
  });

  it("does not tell a cache when cache is false", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p", cache: false });
    expect(store.methods()).toEqual(["save"]);
  });

  it.each([
    ["pluginInstanceId", { pluginInstanceId: "../other" }],
    ["pluginInstanceId", { pluginInstanceId: "a/b" }],
    ["pluginInstanceId", { pluginInstanceId: "" }],
    ["pluginInstanceId", { pluginInstanceId: 42 as unknown as string }],
    ["handle", { pluginInstanceId: "p", handle: "../../default" }],
    ["handle", { pluginInstanceId: "p", handle: ".hidden" }],
    ["handle", { pluginInstanceId: "p", handle: "" }],
    ["handle", { pluginInstanceId: "p", handle: "x".repeat(129) }],
  ])("rejects a bad %s before calling the store", async (field, ids) => {
    const model = trained();
    const cache = new FakeModelCache(store);
    const error = await expectRejection(model.saveRemote({ store, cache, ...ids }));
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as ValidationError).issues[0]?.path).toBe(field);
    expect((error as Error).message).toContain(field);
    expect(store.calls).toEqual([]);
    expect(cache.notified).toEqual([]);
    expect(await readdir(store.root)).toEqual([]);
  });

  // loadRemote refuses a cache bound to another store; saveRemote must too, or it tells that
  // cache about a ref that does not exist in the cache's store. FAILS until saveRemote checks
  // `options.cache.store !== options.store` (see the report).
  it("rejects a cache made for another store before saving anything", async () => {
    const other = await FakeCheckpointStore.create("other-ws");
    try {
      const cache = new FakeModelCache(other);
      const error = await expectRejection(
        trained().saveRemote({ store, pluginInstanceId: "p", cache }),
      );
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as ValidationError).issues[0]?.path).toBe("cache");
      expect(store.calls).toEqual([]);
      expect(other.calls).toEqual([]);
      expect(cache.notified).toEqual([]);
    } finally {
      await other.destroy();
    }
  });
});

describe("loadRemote", () => {
  it("round-trips a saved model, loading `default` by default", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "my-tagger", handle: "v1" });
    store.calls.length = 0;
    const model = await KeywordTagger.loadRemote({ store, pluginInstanceId: "my-tagger" });
    expect(model).toBeInstanceOf(KeywordTagger);
    expect(model.weights).toEqual({ free: 2, winner: 3 });
    expect(model.score("winner")).toBe(3);
    const use = store.calls.find((c) => c.method === "withCheckpoint");
    expect(use?.options.handle).toBe("default");
    expect(use?.options.pluginInstanceId).toBe("my-tagger");
    // The temporary folder is gone once the model is built: state must be in memory.
    expect(model.loadedFrom).toBeDefined();
    await expect(stat(model.loadedFrom as string)).rejects.toThrow();
  });

  it("loads a named handle", async () => {
    await trained({ a: 1 }).saveRemote({ store, pluginInstanceId: "p", handle: "epoch_1" });
    await trained({ b: 2 }).saveRemote({ store, pluginInstanceId: "p", handle: "epoch_2" });
    const first = await KeywordTagger.loadRemote({
      store,
      pluginInstanceId: "p",
      handle: "epoch_1",
    });
    expect(first.weights).toEqual({ a: 1 });
    const latest = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p" });
    expect(latest.weights).toEqual({ b: 2 });
  });

  it("calls receiveConfig with the config before loadFromFolder", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    const model = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p", config });
    expect(model.events).toEqual(["receiveConfig", "loadFromFolder"]);
    expect(model.configAtLoad).toBe(config);
    expect(model.config).toBe(config);
  });

  it("skips receiveConfig without a config", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    const model = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p" });
    expect(model.events).toEqual(["loadFromFolder"]);
  });

  it.each([undefined, false] as const)(
    "with cache: %s, loads through store.withCheckpoint",
    async (cacheOption) => {
      await trained().saveRemote({ store, pluginInstanceId: "p" });
      store.calls.length = 0;
      const controller = new AbortController();
      const onProgress = () => {};
      await KeywordTagger.loadRemote({
        store,
        pluginInstanceId: "p",
        cache: cacheOption,
        signal: controller.signal,
        onProgress,
      });
      expect(store.methods()[0]).toBe("withCheckpoint");
      const use = store.calls[0]?.options;
      expect(use?.signal).toBe(controller.signal);
      expect(use?.onProgress).toBe(onProgress);
      expect(typeof use?.use).toBe("function");
      const a = await KeywordTagger.loadRemote({
        store,
        pluginInstanceId: "p",
        cache: cacheOption,
      });
      const b = await KeywordTagger.loadRemote({
        store,
        pluginInstanceId: "p",
        cache: cacheOption,
      });
      expect(a).not.toBe(b);
    },
  );

  it("with a cache, loads through cache.getOrLoad keyed by the class itself and its config", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p", handle: "v1" });
    store.calls.length = 0;
    const cache = new FakeModelCache(store);
    const controller = new AbortController();
    const model = await KeywordTagger.loadRemote({
      store,
      pluginInstanceId: "p",
      cache,
      config,
      signal: controller.signal,
    });
    expect(model).toBeInstanceOf(KeywordTagger);
    expect(model.weights).toEqual({ free: 2, winner: 3 });
    expect(model.events).toEqual(["receiveConfig", "loadFromFolder"]);
    expect(cache.loads).toHaveLength(1);
    expect(cache.loads[0]).toMatchObject({
      pluginInstanceId: "p",
      handle: "default",
      kind: "KeywordTagger",
      modelClass: KeywordTagger,
      config,
      signal: controller.signal,
    });
    // The store was only reached through the cache.
    expect(store.calls[0]?.method).toBe("resolve");

    const again = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p", cache, config });
    expect(again).toBe(model);
    // Another config is another instance.
    const other = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p", cache });
    expect(other).not.toBe(model);
    expect(cache.loads.at(-1)).toMatchObject({ kind: "KeywordTagger", modelClass: KeywordTagger });
    expect(cache.loads.at(-1)).not.toHaveProperty("config");

    const strict = await StrictTagger.loadRemote({
      store,
      pluginInstanceId: "p",
      cache,
      handle: "v1",
    });
    expect(cache.loads.at(-1)).toMatchObject({ kind: "StrictTagger", handle: "v1" });
    expect(strict).toBeInstanceOf(StrictTagger);
    expect(strict).not.toBe(model);
  });

  it("rejects a cache made for another store, before any I/O", async () => {
    const other = await FakeCheckpointStore.create("other-ws");
    try {
      const cache = new FakeModelCache(other);
      const error = await expectRejection(
        KeywordTagger.loadRemote({ store, pluginInstanceId: "p", cache }),
      );
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as ValidationError).issues[0]?.path).toBe("cache");
      expect((error as Error).message).toContain("different store");
      expect(store.calls).toEqual([]);
      expect(other.calls).toEqual([]);
      expect(cache.loads).toEqual([]);
    } finally {
      await other.destroy();
    }
  });

  it.each([
    ["pluginInstanceId", { pluginInstanceId: "../other" }],
    ["pluginInstanceId", { pluginInstanceId: "p/../../q" }],
    ["pluginInstanceId", { pluginInstanceId: undefined as unknown as string }],
    ["handle", { pluginInstanceId: "p", handle: "../default" }],
    ["handle", { pluginInstanceId: "p", handle: "a\\b" }],
    ["handle", { pluginInstanceId: "p", handle: "" }],
  ])("rejects a bad %s before calling the store or the cache", async (field, ids) => {
    for (const withCache of [false, true]) {
      const cache = new FakeModelCache(store);
      const error = await expectRejection(
        KeywordTagger.loadRemote({ store, ...ids, cache: withCache ? cache : false }),
      );
      expect(ValidationError.isInstance(error)).toBe(true);
      expect((error as ValidationError).issues[0]?.path).toBe(field);
      expect(store.calls).toEqual([]);
      expect(cache.loads).toEqual([]);
    }
  });

  it("propagates a loadFromFolder failure", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    await writeFile(join(store.handleDir("p", "default"), "model.json"), "{not json");
    const error = await expectRejection(KeywordTagger.loadRemote({ store, pluginInstanceId: "p" }));
    expect(error).toBeInstanceOf(SyntaxError);
  });
});

describe("useRemote", () => {
  class Disposable extends KeywordTagger {
    disposed = 0;
    override dispose(): void {
      this.disposed++;
    }
  }

  it("without a cache: fn gets a fresh model, disposed when fn ends (even when it throws)", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    let seen: Disposable | undefined;
    const answer = await Disposable.useRemote({ store, pluginInstanceId: "p", config }, (model) => {
      seen = model;
      expect(model.disposed).toBe(0);
      return model.weights.winner;
    });
    expect(answer).toBe(3);
    expect(seen?.disposed).toBe(1);
    const failure = await expectRejection(
      Disposable.useRemote({ store, pluginInstanceId: "p" }, (model) => {
        seen = model;
        throw new Error("boom");
      }),
    );
    expect((failure as Error).message).toBe("boom");
    expect(seen?.disposed).toBe(1);
  });

  it("with a cache that leases: holds the model for fn and releases it however fn ends", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    const cache = new FakeModelCache(store);
    const held: string[] = [];
    const leasing = Object.assign(cache, {
      async acquire<M>(options: CacheLoadOptions<M>): Promise<ModelLease<M>> {
        const model = await cache.getOrLoad(options);
        held.push("acquire");
        const ref = await store.resolve({ pluginInstanceId: "p" });
        return { model, ref, release: () => void held.push("release") };
      },
    });
    const answer = await Disposable.useRemote(
      { store, pluginInstanceId: "p", cache: leasing, config },
      (model) => {
        expect(held).toEqual(["acquire"]);
        return model.weights.free;
      },
    );
    expect(answer).toBe(2);
    expect(held).toEqual(["acquire", "release"]);
    expect(cache.loads[0]).toMatchObject({ modelClass: Disposable, config });
    await expectRejection(
      Disposable.useRemote({ store, pluginInstanceId: "p", cache: leasing }, () => {
        throw new Error("boom");
      }),
    );
    expect(held).toEqual(["acquire", "release", "acquire", "release"]);
  });
});

describe("useRemote with a cache that leases from memory (acquireCached)", () => {
  /** A cache whose memory holds what `acquire` loaded; records every call and signal read. */
  function memoryCache() {
    const cache = new FakeModelCache(store);
    const calls: string[] = [];
    let inMemory: { model: unknown; ref: CheckpointRef; key: string } | undefined;
    const keyOf = (o: CacheLoadOptions<unknown>) =>
      JSON.stringify([o.pluginInstanceId, o.handle, o.kind, o.config ?? null]);
    const leasing = Object.assign(cache, {
      async acquire<M>(options: CacheLoadOptions<M>): Promise<ModelLease<M>> {
        calls.push(`acquire signal=${options.signal === undefined ? "none" : "given"}`);
        const model = await cache.getOrLoad(options);
        const ref = await store.resolve({ pluginInstanceId: options.pluginInstanceId });
        inMemory = { model, ref, key: keyOf(options as CacheLoadOptions<unknown>) };
        return { model, ref, release: () => void calls.push("release") };
      },
      acquireCached<M>(options: CacheLoadOptions<M>): ModelLease<M> | undefined {
        // The cached path never needs the request's signal.
        expect(Object.hasOwn(options, "signal")).toBe(false);
        calls.push("acquireCached");
        if (inMemory?.key !== keyOf(options as CacheLoadOptions<unknown>)) return undefined;
        return {
          model: inMemory.model as M,
          ref: inMemory.ref,
          release: () => void calls.push("release"),
        };
      },
    });
    return { leasing, calls };
  }

  it("a model in memory is leased without acquire (no signal read); a miss goes to acquire with the signal; both release however fn ends", async () => {
    await trained().saveRemote({ store, pluginInstanceId: "p" });
    const { leasing, calls } = memoryCache();
    let signalReads = 0;
    const signal = new AbortController().signal;
    const options = {
      store,
      pluginInstanceId: "p",
      cache: leasing,
      config,
      get signal() {
        signalReads++;
        return signal;
      },
    };
    const first = await KeywordTagger.useRemote(options, (m) => m);
    expect(calls).toEqual(["acquireCached", "acquire signal=given", "release"]);
    const readsByTheMiss = signalReads;
    expect(readsByTheMiss).toBeGreaterThan(0);
    const second = await KeywordTagger.useRemote(options, (m) => m);
    expect(second).toBe(first);
    expect(calls.slice(3)).toEqual(["acquireCached", "release"]);
    expect(signalReads).toBe(readsByTheMiss); // the hit never reads it

    // Another config is another model: not leased from memory.
    await KeywordTagger.useRemote({ ...options, config: { ...config, threshold: 0.9 } }, (m) => m);
    expect(calls.slice(5)).toEqual(["acquireCached", "acquire signal=given", "release"]);

    const failure = await expectRejection(
      KeywordTagger.useRemote({ store, pluginInstanceId: "p", cache: leasing }, () => {
        throw new Error("boom");
      }),
    );
    expect((failure as Error).message).toBe("boom");
    expect(calls.at(-1)).toBe("release");
  });

  it("checks its arguments before asking the cache, memory or not", async () => {
    const { leasing, calls } = memoryCache();
    const other = await FakeCheckpointStore.create("other");
    for (const bad of [{ pluginInstanceId: "../p" }, { handle: "a/b" }, { store: other }]) {
      const error = await expectRejection(
        KeywordTagger.useRemote({ store, pluginInstanceId: "p", cache: leasing, ...bad }, (m) => m),
      );
      expect(ValidationError.isInstance(error)).toBe(true);
    }
    expect(calls).toEqual([]);
    await other.destroy();
  });
});

describe("train / trainStatus", () => {
  function context(signal = new AbortController().signal) {
    const updates: Array<Partial<TrainPluginOutput>> = [];
    const ctx: TrainContext = {
      postUpdate: (u) => updates.push(u as Partial<TrainPluginOutput>),
      signal,
      scratchDir: temp,
    };
    return { ctx, updates };
  }

  it("a synchronous model trains, streams progress, and saves what it learned", async () => {
    const model = new KeywordTagger();
    const { ctx, updates } = context();
    const response = await model.train(
      {
        data: { pluginInstance: "p", trainingEpochs: 2, trainingParams: { words: ["cash"] } },
        isStatusCheck: false,
      },
      ctx,
    );
    expect(response.status?.state).toBe("succeeded");
    expect(updates).toEqual([
      { trainingProgress: { epoch: 1, of: 2 } },
      { trainingProgress: { epoch: 2, of: 2 } },
    ]);
    const saved = await model.saveRemote({ store, pluginInstanceId: "p" });
    const loaded = await KeywordTagger.loadRemote({ store, pluginInstanceId: "p" });
    expect(loaded.weights).toEqual({ cash: 2 });
    expect(saved.archivePath).toBe(saved.ref.archivePath);
  });

  it("training honours the abort signal", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await expectRejection(
      new KeywordTagger().train({ data: { pluginInstance: "p" } }, context(controller.signal).ctx),
    );
    expect(CancelledError.isInstance(error)).toBe(true);
  });

  it("the default trainStatus rejects with a TrainingError saying the model is synchronous", async () => {
    const model = new KeywordTagger();
    const promise = model.trainStatus(
      {
        data: { pluginInstance: "p" },
        isStatusCheck: true,
        status: { state: "running", remoteStatusInput: { jobId: "j" } },
      },
      context().ctx,
    );
    expect(promise).toBeInstanceOf(Promise);
    const error = await expectRejection(promise);
    expect(TrainingError.isInstance(error)).toBe(true);
    expect((error as TrainingError).code).toBe("TRAINING");
    expect((error as Error).message).toMatch(/synchronous/);
    expect((error as Error).message).toContain("KeywordTagger");
    expect((error as Error).message).toMatch(/^\[core\] /);
  });
});
