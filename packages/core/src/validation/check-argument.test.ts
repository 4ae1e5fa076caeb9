import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeCheckpointStore, FakeModelCache } from "../__fixtures__/fake-checkpoint-store.js";
import { TrainableModel, ValidationError } from "../index.js";
import { describeValue } from "./describe-value.js";

class NoteModel extends TrainableModel {
  async saveToFolder(): Promise<void> {}
  async loadFromFolder(): Promise<void> {}
  async train(): Promise<never> {
    throw new Error("not used");
  }
}

let store: FakeCheckpointStore;
beforeAll(async () => {
  store = await FakeCheckpointStore.create();
});
afterAll(async () => {
  await store.destroy();
});

/** The ValidationError a call rejects with: its message and the field its issue names. */
async function refusal(call: () => Promise<unknown>): Promise<{ message: string; field: string }> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  const v = error as ValidationError;
  return { message: v.message, field: v.issues[0]?.path ?? "" };
}

describe("saveRemote / loadRemote argument checks", () => {
  it("an un-awaited store is named, with the fix", async () => {
    const pending = Promise.resolve(store);
    for (const call of [
      () => new NoteModel().saveRemote({ store: pending as never, pluginInstanceId: "i" }),
      () => NoteModel.loadRemote({ store: pending as never, pluginInstanceId: "i" }),
      () => NoteModel.useRemote({ store: pending as never, pluginInstanceId: "i" }, () => 1),
    ]) {
      const { message, field } = await refusal(call);
      expect(field).toBe("store");
      expect(message).toMatch(/store is a Promise: did you forget await\?/);
      expect(message).toMatch(/createCheckpointStore/);
      expect(message).not.toMatch(/is not a function/);
    }
  });

  it("a missing store, a cache passed as the store, and a store passed as the cache", async () => {
    const cache = new FakeModelCache(store);
    let r = await refusal(() => new NoteModel().saveRemote({ pluginInstanceId: "i" } as never));
    expect(r).toMatchObject({ field: "store" });
    expect(r.message).toMatch(/store is required/);
    r = await refusal(() => NoteModel.loadRemote({ store: cache as never, pluginInstanceId: "i" }));
    expect(r.field).toBe("store");
    expect(r.message).toMatch(/store is a model cache, not a checkpoint store/);
    r = await refusal(() =>
      NoteModel.loadRemote({ store, cache: store as never, pluginInstanceId: "i" }),
    );
    expect(r.field).toBe("cache");
    expect(r.message).toMatch(/cache is a checkpoint store, not a model cache/);
    r = await refusal(() =>
      NoteModel.loadRemote({
        store,
        cache: Promise.resolve(cache) as never,
        pluginInstanceId: "i",
      }),
    );
    expect(r.field).toBe("cache");
    expect(r.message).toMatch(/cache is a Promise: did you forget await\?/);
    r = await refusal(() =>
      new NoteModel().saveRemote({ store: "file:///tmp/x" as never, pluginInstanceId: "i" }),
    );
    expect(r.message).toMatch(/got a string .*a URL is not a store/);
    r = await refusal(() =>
      new NoteModel().saveRemote({ store: {} as never, pluginInstanceId: "i" }),
    );
    expect(r.message).toMatch(/expected a checkpoint store .* without save\(\)/);
  });

  it("options must be an object", async () => {
    const r = await refusal(() => new NoteModel().saveRemote(undefined as never));
    expect(r.field).toBe("options");
    expect(r.message).toMatch(/saveRemote: expected an options object .*got undefined/);
  });
});

describe("describeValue", () => {
  it("names what a value is", () => {
    expect(describeValue(Promise.resolve(1))).toBe("a Promise");
    expect(describeValue(undefined)).toBe("undefined");
    expect(describeValue(null)).toBe("null");
    expect(describeValue("x")).toBe("a string");
    expect(describeValue(NoteModel)).toBe("a class (NoteModel)");
    expect(describeValue(() => 1)).toBe("a function");
    expect(describeValue(new Map())).toBe("an object (Map)");
    expect(describeValue({})).toBe("an object");
    expect(describeValue([])).toBe("an array");
  });
});
