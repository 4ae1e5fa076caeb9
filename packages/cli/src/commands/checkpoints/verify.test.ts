import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerVerify } from "./verify.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function cli(options: { json?: boolean } = {}) {
  const c = await checkpointsCli(registerVerify, options);
  cleanups.push(c.cleanup);
  return c;
}

/** The file of a stored archive (`ref.archivePath`) in the `file:` store under `root`. */
async function archiveFile(root: string, archivePath: string): Promise<string> {
  const name = archivePath.split("/").at(-1) as string;
  const all = await readdir(join(root, "store"), { recursive: true });
  const found = all.filter((p) => p.endsWith(name));
  if (found.length !== 1) throw new Error(`archive ${archivePath}: found ${found.join(", ")}`);
  return join(root, "store", found[0] as string);
}

interface VerifyOutput {
  checked: number;
  ok: number;
  bad: Array<{ archivePath: string; handles: string[]; quarantined: boolean; reason: string }>;
}

describe("checkpoints verify", () => {
  it("re-hashes every blob of the instance: all good, exit code 0", async () => {
    const c = await cli();
    await c.save("tagger", "v1", '{"a":1}');
    await c.save("tagger", "v2", '{"a":2}');
    const out = (await c.run("verify", "--instance", "tagger")) as VerifyOutput;
    expect(out).toMatchObject({ checked: 2, ok: 2, bad: [] });
    expect(c.context.exitCode).toBe(0);
  });

  it("reports a corrupted blob with the handles it breaks, and sets exit code 1", async () => {
    const c = await cli();
    const { ref } = await c.save("tagger", "v1", '{"a":1}');
    await c.save("tagger", "v2", '{"a":2}');
    await writeFile(await archiveFile(c.root, ref.archivePath), "not the archive");
    const out = (await c.run("verify", "--instance", "tagger")) as VerifyOutput;
    expect(out.checked).toBe(2);
    expect(out.ok).toBe(1);
    expect(out.bad).toHaveLength(1);
    expect(out.bad[0]).toMatchObject({ handles: ["v1"], quarantined: false });
    expect(c.context.exitCode).toBe(1);
  });

  it("--repair quarantines the bad blob (still exit code 1: the data is lost)", async () => {
    const c = await cli();
    const { ref } = await c.save("tagger", "v1", '{"a":1}');
    await writeFile(await archiveFile(c.root, ref.archivePath), "garbage");
    const out = (await c.run("verify", "--instance", "tagger", "--repair")) as VerifyOutput;
    expect(out.bad[0]).toMatchObject({ quarantined: true });
    expect(c.context.exitCode).toBe(1);
  });

  it("says so when the instance has no stored blobs (text)", async () => {
    const c = await cli({ json: false });
    expect(await c.run("verify", "--instance", "nobody")).toContain(
      `no stored blobs for instance "nobody" in ${c.remote}`,
    );
    expect(c.context.exitCode).toBe(0);
  });
});
