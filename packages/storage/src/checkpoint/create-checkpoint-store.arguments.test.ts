import { ValidationError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { createMemoryBackend } from "../backends/memory/memory-backend.js";
import { createCheckpointStore } from "./create-checkpoint-store.js";

async function refusal(call: () => Promise<unknown>): Promise<{ message: string; field: string }> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(ValidationError.isInstance(error), String(error)).toBe(true);
  const v = error as ValidationError;
  return { message: v.message, field: v.issues[0]?.path ?? "" };
}

describe("createCheckpointStore argument checks", () => {
  it("a URL instead of the options object says how to pass it", async () => {
    const r = await refusal(() => createCheckpointStore("file:///tmp/x" as never));
    expect(r.field).toBe("options");
    expect(r.message).toMatch(
      /not a URL: createCheckpointStore\(\{ url: "file:\/\/\/tmp\/x", workspace \}\)/,
    );
  });

  it("an un-awaited promise as the options or the backend is named", async () => {
    let r = await refusal(() => createCheckpointStore(Promise.resolve({}) as never));
    expect(r).toMatchObject({ field: "options" });
    expect(r.message).toMatch(/options is a Promise: did you forget await\?/);
    r = await refusal(() =>
      createCheckpointStore({
        backend: Promise.resolve(createMemoryBackend()) as never,
        workspace: "w",
      }),
    );
    expect(r).toMatchObject({ field: "backend" });
    expect(r.message).toMatch(/backend is a Promise: did you forget await\?/);
  });

  it("a url that is not a string is named", async () => {
    const r = await refusal(() =>
      createCheckpointStore({ url: new URL("memory://") as never, workspace: "w" }),
    );
    expect(r.field).toBe("url");
    expect(r.message).toMatch(/expected a URL string .*got an object \(URL\)/);
  });
});
