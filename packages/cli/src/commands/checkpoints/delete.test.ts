import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerDelete } from "./delete.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli() {
  const c = await checkpointsCli(registerDelete);
  cleanups.push(c.cleanup);
  return c;
}

const handles = async (c: Awaited<ReturnType<typeof cli>>, instance: string) =>
  (await (await c.store()).list({ pluginInstanceId: instance })).map((r) => r.handle).sort();

describe("checkpoints delete", () => {
  it("deletes the handle only: another handle of the same checkpoint still reads it", async () => {
    const c = await cli();
    const { ref } = await c.save("tagger", "v1", '{"a":1}', { setAsDefault: true });
    await c.save("other", "v1", '{"a":1}');
    expect(await c.run("delete", "--instance", "tagger", "--handle", "v1")).toEqual({
      deleted: "v1",
    });
    expect(await handles(c, "tagger")).toEqual(["default"]);
    // The same handle of another instance is untouched.
    expect(await handles(c, "other")).toEqual(["v1"]);
    const store = await c.store();
    const kept = await store.resolve({ pluginInstanceId: "tagger", handle: "default" });
    expect(kept.digest).toBe(ref.digest);
    await expect(store.resolve({ pluginInstanceId: "tagger", handle: "v1" })).rejects.toMatchObject(
      { code: "NOT_FOUND" },
    );
  });

  it("requires --handle and refuses a bad one, deleting nothing", async () => {
    const c = await cli();
    await c.save("tagger", "v1", '{"a":1}');
    await expect(c.run("delete", "--instance", "tagger")).rejects.toThrow(/--handle/);
    await expect(c.run("delete", "--instance", "tagger", "--handle", "a/b")).rejects.toThrow(
      /--handle/,
    );
    expect(await handles(c, "tagger")).toEqual(["v1"]);
  });
});
