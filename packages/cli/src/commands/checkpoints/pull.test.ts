import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerPull } from "./pull.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli() {
  const c = await checkpointsCli(registerPull);
  cleanups.push(c.cleanup);
  await c.save("tagger", "v1", '{"v":1}');
  await c.save("tagger", "v2", '{"v":2}', { setAsDefault: true });
  return c;
}

describe("checkpoints pull", () => {
  it("downloads `default` into a new folder (relative to the working directory)", async () => {
    const c = await cli();
    const out = (await c.run("pull", "out", "--instance", "tagger")) as Record<string, unknown>;
    const target = join(c.root, "out");
    expect(out).toMatchObject({ handle: "default", files: 1, path: target });
    expect(await readFile(join(target, "model.json"), "utf8")).toBe('{"v":2}');
  });

  it("pulls a --handle into --out", async () => {
    const c = await cli();
    const target = join(c.root, "by-flag");
    await c.run("pull", "--instance", "tagger", "--handle", "v1", "--out", target);
    expect(await readFile(join(target, "model.json"), "utf8")).toBe('{"v":1}');
  });

  it("refuses a non-empty folder unless --force, which replaces its contents", async () => {
    const c = await cli();
    const target = join(c.root, "full");
    await mkdir(target);
    await writeFile(join(target, "stale.txt"), "old");
    await expect(c.run("pull", target, "--instance", "tagger")).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "<dir>", message: expect.stringContaining("--force") }],
    });
    expect(await readdir(target)).toEqual(["stale.txt"]);
    await c.run("pull", target, "--instance", "tagger", "--force");
    expect((await readdir(target)).sort()).toEqual(["model.json"]);
  });

  it("wants the folder once: neither or both of [dir] and --out is refused", async () => {
    const c = await cli();
    await expect(c.run("pull", "--instance", "tagger")).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "<dir>" }],
    });
    await expect(c.run("pull", "a", "--out", "b", "--instance", "tagger")).rejects.toMatchObject({
      code: "VALIDATION",
      issues: [{ path: "<dir>" }],
    });
    expect(existsSync(join(c.root, "a"))).toBe(false);
    expect(existsSync(join(c.root, "b"))).toBe(false);
  });

  it("refuses to replace a folder holding the CLI's store, even with --force", async () => {
    const c = await cli();
    await expect(
      c.run("pull", "--out", c.root, "--instance", "tagger", "--force"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "--out" }] });
    expect(existsSync(join(c.root, "store"))).toBe(true);
  });

  it("fails with NOT_FOUND for an unknown handle, creating no folder", async () => {
    const c = await cli();
    await expect(
      c.run("pull", "x", "--instance", "tagger", "--handle", "nope"),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(existsSync(join(c.root, "x"))).toBe(false);
  });
});
