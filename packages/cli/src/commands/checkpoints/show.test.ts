import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerShow } from "./show.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli(options: { json?: boolean } = {}) {
  const c = await checkpointsCli(registerShow, options);
  cleanups.push(c.cleanup);
  return c;
}

describe("checkpoints show", () => {
  it("prints a handle's ref with the files and directories of its manifest", async () => {
    const c = await cli();
    const store = await c.store();
    const { ref } = await store.save({
      pluginInstanceId: "tagger",
      handle: "v1",
      write: async (dir) => {
        await writeFile(join(dir, "model.json"), '{"w":1}');
        await mkdir(join(dir, "vocab"));
        await writeFile(join(dir, "vocab", "words.txt"), "cat\ndog\n");
      },
      metadata: { trainingResults: { f1: 0.9 } },
    });
    const out = (await c.run("show", "--instance", "tagger", "--handle", "v1")) as {
      handle: string;
      digest: string;
      metadata: unknown;
      files: Array<{ path: string; size: number; sha256: string }>;
      directories: string[];
    };
    expect(out).toMatchObject({
      handle: "v1",
      digest: ref.digest,
      metadata: { trainingResults: { f1: 0.9 } },
    });
    expect(out.files.map((f) => [f.path, f.size]).sort()).toEqual([
      ["model.json", 7],
      ["vocab/words.txt", 8],
    ]);
    expect(out.directories).toEqual(["vocab"]);
  });

  it("shows `default` when no --handle is given", async () => {
    const c = await cli();
    await c.save("tagger", "v1", '{"a":1}');
    const { ref } = await c.save("tagger", "v2", '{"a":2}', { setAsDefault: true });
    const out = (await c.run("show", "--instance", "tagger")) as { digest: string };
    expect(out.digest).toBe(ref.digest);
  });

  it("prints the ref and its files as text without --json", async () => {
    const c = await cli({ json: false });
    const { ref } = await c.save("tagger", "v1", '{"a":1}');
    const text = (await c.run("show", "--instance", "tagger", "--handle", "v1")) as string;
    expect(text).toContain(`digest:      ${ref.digest}`);
    expect(text).toMatch(/files \(1, 7 bytes\):\n {2}model\.json {2}7 {2}[0-9a-f]{12}/);
  });

  it("fails with NOT_FOUND for a handle that does not exist", async () => {
    const c = await cli();
    await c.save("tagger", "v1", '{"a":1}');
    await expect(c.run("show", "--instance", "tagger", "--handle", "nope")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
