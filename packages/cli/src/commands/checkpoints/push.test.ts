import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerPush } from "./push.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli() {
  const c = await checkpointsCli(registerPush);
  cleanups.push(c.cleanup);
  return c;
}

interface PushOutput {
  handle: string;
  digest: string;
  files: number;
  default: boolean;
  uploadedBytes: number;
  path: string;
}

describe("checkpoints push", () => {
  it("saves a folder (relative to the working directory) as the handle and moves default", async () => {
    const c = await cli();
    const dir = await c.folder({ "model.json": '{"w":1}', "vocab.txt": "cat\n" });
    const out = (await c.run(
      "push",
      "model-1",
      "--instance",
      "tagger",
      "--handle",
      "v1",
    )) as PushOutput;
    expect(out).toMatchObject({ handle: "v1", files: 2, default: true, path: dir });
    expect(out.uploadedBytes).toBeGreaterThan(0);
    const store = await c.store();
    expect((await store.resolve({ pluginInstanceId: "tagger", handle: "v1" })).digest).toBe(
      out.digest,
    );
    expect((await store.resolve({ pluginInstanceId: "tagger", handle: "default" })).digest).toBe(
      out.digest,
    );
  });

  it("--no-default leaves default where it was; the same folder again uploads nothing", async () => {
    const c = await cli();
    const dir = await c.folder({ "model.json": '{"a":1}' });
    const first = (await c.run(
      "push",
      dir,
      "--instance",
      "tagger",
      "--handle",
      "v1",
    )) as PushOutput;
    const other = await c.save("tagger", "v0", '{"a":0}', { setAsDefault: true });
    const out = (await c.run(
      "push",
      dir,
      "--instance",
      "tagger",
      "--handle",
      "v2",
      "--no-default",
    )) as PushOutput;
    expect(out.default).toBe(false);
    // The folder is unchanged and its checkpoint already stored: nothing is sent again.
    expect(out.digest).toBe(first.digest);
    expect(out.uploadedBytes).toBe(0);
    const store = await c.store();
    expect((await store.resolve({ pluginInstanceId: "tagger", handle: "default" })).digest).toBe(
      other.ref.digest,
    );
    const handles = (await store.list({ pluginInstanceId: "tagger" })).map((r) => r.handle);
    expect(handles.sort()).toEqual(["default", "v0", "v1", "v2"]);
  });

  it("refuses a missing folder, a file, and a folder holding the CLI's store, naming <dir>", async () => {
    const c = await cli();
    await expect(
      c.run("push", "nowhere", "--instance", "tagger", "--handle", "v1"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "<dir>" }] });
    await writeFile(join(c.root, "file.txt"), "x");
    await expect(
      c.run("push", "file.txt", "--instance", "tagger", "--handle", "v1"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "<dir>" }] });
    // The temp dir holds the store itself: pushing it would store the store.
    await c.save("tagger", "v0", '{"a":0}');
    await expect(
      c.run("push", ".", "--instance", "tagger", "--handle", "v1"),
    ).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "<dir>", message: expect.stringContaining("the store") }],
    });
    const store = await c.store();
    expect((await store.list({ pluginInstanceId: "tagger" })).map((r) => r.handle)).toEqual(["v0"]);
  });

  it("refuses a bad --instance or --handle, naming the flag", async () => {
    const c = await cli();
    const dir = await c.folder({ "model.json": "{}" });
    await expect(c.run("push", dir, "--instance", "../x", "--handle", "v1")).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "--instance" }],
    });
    await expect(
      c.run("push", dir, "--instance", "tagger", "--handle", "a b"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "--handle" }] });
  });
});
