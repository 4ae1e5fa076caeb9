import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerList } from "./list.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli(options: { json?: boolean } = {}) {
  const c = await checkpointsCli(registerList, options);
  cleanups.push(c.cleanup);
  return c;
}

describe("checkpoints list", () => {
  it("prints every handle of the instance with its checkpoint (--json)", async () => {
    const c = await cli();
    const v1 = await c.save("tagger", "v1", '{"a":1}', {
      setAsDefault: true,
      metadata: { trainingResults: { f1: 0.7 } },
    });
    await c.save("tagger", "v2", '{"a":2}');
    await c.save("other", "v9", '{"a":9}');
    const out = (await c.run("list", "--instance", "tagger")) as Array<Record<string, unknown>>;
    expect(out.map((r) => r.handle).sort()).toEqual(["default", "v1", "v2"]);
    const first = out.find((r) => r.handle === "v1");
    expect(first).toMatchObject({
      digest: v1.ref.digest,
      files: 1,
      size: v1.ref.size,
      trainingResults: { f1: 0.7 },
    });
    // default names the same checkpoint as v1.
    expect(out.find((r) => r.handle === "default")?.digest).toBe(v1.ref.digest);
  });

  it("prints an empty list for an instance without checkpoints", async () => {
    const c = await cli();
    expect(await c.run("list", "--instance", "nobody")).toEqual([]);
  });

  it("prints a table (and a message when empty) without --json", async () => {
    const c = await cli({ json: false });
    expect(await c.run("list", "--instance", "nobody")).toBe(
      `no checkpoints for instance "nobody" in ${c.remote}\n`,
    );
    await c.save("tagger", "v1", '{"a":1}', { metadata: { trainingResults: { f1: 0.25 } } });
    const text = (await c.run("list", "--instance", "tagger")) as string;
    const [header, row] = text.trimEnd().split("\n");
    expect(header).toMatch(/^HANDLE\s+DIGEST\s+SIZE\s+CREATED\s+METRICS$/);
    expect(row).toMatch(/^v1\s+[0-9a-f]{12}\s+\d+\s+\S+\s+f1=0\.25$/);
  });

  it("without --instance, prints the instances that have checkpoints (--json and a table)", async () => {
    const c = await cli();
    expect(await c.run("list")).toEqual([]);
    await c.save("tagger", "v1", '{"a":1}');
    await c.save("other", "v9", '{"a":9}');
    await c.save("gone", "v1", '{"a":3}');
    // Every handle deleted: no checkpoints left.
    await (await c.store()).delete({ pluginInstanceId: "gone", handle: "v1" });
    expect(await c.run("list")).toEqual([{ instance: "other" }, { instance: "tagger" }]);
    const text = await cli({ json: false });
    expect(await text.run("list")).toBe(`no instances with checkpoints in ${text.remote}\n`);
    await text.save("tagger", "v1", '{"a":1}');
    expect(await text.run("list")).toBe("INSTANCE\ntagger\n");
  });

  it("refuses a bad --instance id, naming the flag", async () => {
    const c = await cli();
    await expect(c.run("list", "--instance", "../x")).rejects.toThrow(/--instance/);
  });
});
