import { ValidationError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { describe, expect, it } from "vitest";
import { createModelCache } from "./create-model-cache.js";

function refusal(call: () => unknown): { message: string; field: string } {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  const v = error as ValidationError;
  return { message: v.message, field: v.issues[0]?.path ?? "" };
}

describe("createModelCache argument checks", () => {
  it("the un-awaited createCheckpointStore(...) promise as store says: did you forget await?", async () => {
    const pending = createCheckpointStore({ url: "memory://", workspace: "w" });
    const r = refusal(() => createModelCache({ store: pending as never }));
    expect(r.field).toBe("store");
    expect(r.message).toMatch(/store is a Promise: did you forget await\?/);
    expect(r.message).toMatch(/createModelCache/);
    await (await pending).close();
  });

  it("a missing store and a missing options object are named", () => {
    expect(refusal(() => createModelCache({} as never))).toMatchObject({ field: "store" });
    const r = refusal(() => createModelCache(undefined as never));
    expect(r.field).toBe("options");
    expect(r.message).toMatch(/got undefined/);
  });

  it("a cache passed as the store is named", async () => {
    const store = await createCheckpointStore({ url: "memory://", workspace: "w" });
    const cache = createModelCache({ store, diskDir: false });
    const r = refusal(() => createModelCache({ store: cache as never }));
    expect(r.message).toMatch(/store is a model cache, not a checkpoint store/);
    await store.close();
  });
});
