import { afterEach, describe, expect, it } from "vitest";
import { checkpointsCli } from "../../../test/__fixtures__/checkpoints-cli.js";
import { registerPrune } from "./prune.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Four checkpoints of "tagger" (f1 0.2 … 0.8, `c4` is default), each of its own content. */
async function setup() {
  const cli = await checkpointsCli(registerPrune);
  cleanups.push(cli.cleanup);
  const f1 = [0.5, 0.8, 0.2, 0.6];
  for (const [i, score] of f1.entries()) {
    await cli.save("tagger", `c${i + 1}`, `{"n":${i}}`, {
      setAsDefault: i === 3,
      metadata: { trainingResults: { f1: score } },
    });
    // Distinct creation times, so "newest" is well defined.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const handles = async () =>
    (await (await cli.store()).list({ pluginInstanceId: "tagger" })).map((r) => r.handle).sort();
  return { cli, handles };
}

interface PruneOutput {
  kept: string[];
  deleted: string[];
  dryRun: boolean;
  gc?: { deleted: string[]; bytesFreed: number };
}

describe("checkpoints prune", () => {
  it("keeps the N best by --metric (and default), deletes the rest and collects their blobs", async () => {
    const { cli, handles } = await setup();
    const out = (await cli.run(
      "prune",
      "--instance",
      "tagger",
      "--keep-best",
      "1",
      "--metric",
      "f1",
      "--gc-min-age-ms",
      "0",
    )) as PruneOutput;
    // Only the `default` handle is always kept, not another handle of its checkpoint (c4).
    expect([...out.deleted].sort()).toEqual(["c1", "c3", "c4"]);
    expect(out.kept).toContain("c2");
    expect(out.kept).toContain("default");
    expect(out.dryRun).toBe(false);
    expect(await handles()).toEqual(["c2", "default"]);
    const store = await cli.store();
    const kept = await store.resolve({ pluginInstanceId: "tagger", handle: "default" });
    expect(kept.metadata.trainingResults).toEqual({ f1: 0.6 });
    // c1's and c3's blobs were referenced by no other handle: collected.
    expect(out.gc?.deleted.length).toBeGreaterThan(0);
    expect(out.gc?.bytesFreed).toBeGreaterThan(0);
  });

  it("--min makes the lowest metric the best", async () => {
    const { cli, handles } = await setup();
    const out = (await cli.run(
      "prune",
      "--instance",
      "tagger",
      "--keep-best",
      "1",
      "--metric",
      "f1",
      "--min",
    )) as PruneOutput;
    expect([...out.deleted].sort()).toEqual(["c1", "c2", "c4"]);
    expect(await handles()).toEqual(["c3", "default"]);
  });

  it("--keep-last keeps the newest, --protect a named handle besides", async () => {
    const { cli, handles } = await setup();
    const out = (await cli.run(
      "prune",
      "--instance",
      "tagger",
      "--keep-last",
      "1",
      "--protect",
      "c1",
    )) as PruneOutput;
    expect(out.deleted.sort()).toEqual(["c2", "c3"]);
    expect(await handles()).toEqual(["c1", "c4", "default"]);
  });

  it("--dry-run reports what would go, deletes nothing and collects nothing", async () => {
    const { cli, handles } = await setup();
    const out = (await cli.run(
      "prune",
      "--instance",
      "tagger",
      "--keep-last",
      "1",
      "--dry-run",
    )) as PruneOutput;
    expect(out.dryRun).toBe(true);
    expect(out.deleted.sort()).toEqual(["c1", "c2", "c3"]);
    expect(out.gc).toBeUndefined();
    expect(await handles()).toEqual(["c1", "c2", "c3", "c4", "default"]);
  });

  it("refuses a bad count or no retention rule with a VALIDATION error naming the flag", async () => {
    const { cli, handles } = await setup();
    await expect(
      cli.run("prune", "--instance", "tagger", "--keep-last", "two"),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "--keep-last" }] });
    await expect(cli.run("prune", "--instance", "tagger")).rejects.toMatchObject({
      code: "VALIDATION",
      message: expect.stringContaining("--keep-last"),
    });
    await expect(
      cli.run("prune", "--instance", "tagger", "--keep-best", "1"),
    ).rejects.toMatchObject({ code: "VALIDATION", message: expect.stringContaining("--metric") });
    expect(await handles()).toEqual(["c1", "c2", "c3", "c4", "default"]);
  });
});
