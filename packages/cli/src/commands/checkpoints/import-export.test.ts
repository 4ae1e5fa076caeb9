import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerSteamshipTransfer } from "./import-export.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** "tagger" with v1 and v2 (v2 is default). */
async function cli() {
  const c = await checkpointsCli(registerSteamshipTransfer);
  cleanups.push(c.cleanup);
  await c.save("tagger", "v1", '{"v":1}');
  await c.save("tagger", "v2", '{"v":2}', { setAsDefault: true });
  return c;
}

interface ExportOutput {
  dir: string;
  zips: Array<{ file: string; bytes: number; digest: string; copyOf?: string }>;
}
interface ImportOutput {
  imported: Array<{ handle: string; digest: string; zip: string; sameAs?: string }>;
  skipped: string[];
}

describe("checkpoints export / import (Steamship zips)", () => {
  it("exports every handle as {handle}.zip, default.zip included", async () => {
    const c = await cli();
    const out = (await c.run(
      "export",
      "zips",
      "--to",
      "steamship",
      "--instance",
      "tagger",
    )) as ExportOutput;
    expect(out.dir).toBe(join(c.root, "zips"));
    expect(out.zips.map((z) => z.file).sort()).toEqual(["default.zip", "v1.zip", "v2.zip"]);
    expect((await readdir(out.dir)).sort()).toEqual(["default.zip", "v1.zip", "v2.zip"]);
    for (const zip of out.zips) expect(zip.bytes).toBeGreaterThan(0);
  });

  it("exports only the --handle asked for, and refuses to overwrite a zip without --force", async () => {
    const c = await cli();
    const dir = join(c.root, "some");
    const out = (await c.run(
      "export",
      dir,
      "--to",
      "steamship",
      "--instance",
      "tagger",
      "--handle",
      "v1",
    )) as ExportOutput;
    expect(out.zips.map((z) => z.file)).toEqual(["v1.zip"]);
    await expect(
      c.run("export", dir, "--to", "steamship", "--instance", "tagger", "--handle", "v1"),
    ).rejects.toThrow(/v1\.zip/);
    await c.run(
      "export",
      dir,
      "--to",
      "steamship",
      "--instance",
      "tagger",
      "--handle",
      "v1",
      "--force",
    );
    expect(await readdir(dir)).toEqual(["v1.zip"]);
  });

  it("imports the exported zips into another instance: same handles, same content", async () => {
    const c = await cli();
    await c.run("export", "zips", "--to", "steamship", "--instance", "tagger");
    await writeFile(join(c.root, "zips", "notes.txt"), "not a checkpoint");
    const out = (await c.run(
      "import",
      "zips",
      "--from",
      "steamship",
      "--instance",
      "copy",
    )) as ImportOutput;
    expect(out.imported.map((i) => i.handle).sort()).toEqual(["default", "v1", "v2"]);
    expect(out.skipped).toEqual(["notes.txt"]);
    const store = await c.store();
    const digest = async (instance: string, handle: string) =>
      (await store.resolve({ pluginInstanceId: instance, handle })).digest;
    expect(await digest("copy", "v1")).toBe(await digest("tagger", "v1"));
    expect(await digest("copy", "default")).toBe(await digest("tagger", "v2"));
  });

  it("refuses another layout than steamship, naming the flag", async () => {
    const c = await cli();
    await expect(
      c.run("export", "zips", "--to", "tar", "--instance", "tagger"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "--to" }] });
    await expect(
      c.run("import", "zips", "--from", "tar", "--instance", "copy"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "--from" }] });
  });
});
