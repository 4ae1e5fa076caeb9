import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CheckpointStoreImpl } from "@trainable/storage";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createModelCache, type ModelCacheStats } from "../../src/index.js";
import { CounterModel } from "../helpers/counter-model.js";
import { type BackendKind, createStoreLocation, type StoreLocation } from "../helpers/stores.js";

const WS = "ws";
const FIXTURE = fileURLToPath(new URL("../__fixtures__/load-in-child.mjs", import.meta.url));

interface ChildResult {
  pid: number;
  version: string;
  stats: ModelCacheStats;
}

function startChild(
  args: Record<string, unknown>,
  env: Record<string, string>,
): {
  child: ChildProcess;
  result: Promise<ChildResult>;
  stdout: () => string;
} {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, ...env, CACHE_CHILD_ARGS: JSON.stringify(args) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const result = new Promise<ChildResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = out
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop();
      if (code === 0 && line) resolve(JSON.parse(line) as ChildResult);
      else reject(new Error(`child exited with ${code ?? signal}: ${err.trim() || out.trim()}`));
    });
  });
  return { child, result, stdout: () => out };
}

/** Processes sharing one disk cache folder, against one kind of backend. */
export function describeMultiProcessSuite(kind: BackendKind): void {
  describe(`processes sharing a disk cache on the ${kind} backend`, () => {
    let loc: StoreLocation;
    let store: CheckpointStoreImpl;
    let diskDir: string;
    let id: string;
    let n = 0;
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      loc = await createStoreLocation(kind);
      store = await loc.open({ workspace: WS });
    });
    afterAll(async () => {
      await store?.close();
      await loc?.cleanup();
    });
    beforeEach(async () => {
      diskDir = await mkdtemp(join(tmpdir(), "trainable-cache-mp-"));
      id = `mp-${process.pid}-${++n}-${Date.now().toString(36)}`;
    });
    afterEach(async () => {
      for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
      await rm(diskDir, { recursive: true, force: true });
    });

    const childArgs = (extra: Record<string, unknown> = {}) => ({
      ...(kind === "s3" ? { s3: JSON.parse(loc.env.CACHE_TEST_S3 as string) } : { url: loc.url }),
      workspace: WS,
      pluginInstanceId: id,
      diskDir,
      ...extra,
    });

    it("4 processes loading the same uncached version download it once and all get it intact", async () => {
      await CounterModel.withVersion("v1", 1024 * 1024).saveRemote({ store, pluginInstanceId: id });
      // Start together (after node has booted), with a slowed download so they overlap.
      const startAt = Date.now() + 1500;
      const runs = Array.from({ length: 4 }, () =>
        startChild(childArgs({ startAt, slowChunkMs: 20 }), loc.env),
      );
      children.push(...runs.map((r) => r.child));
      const results = await Promise.all(runs.map((r) => r.result));
      expect(results.map((r) => r.version)).toEqual(["v1", "v1", "v1", "v1"]);
      const total = (field: keyof ModelCacheStats) =>
        results.reduce((sum, r) => sum + r.stats[field], 0);
      expect(total("downloads")).toBe(1);
      expect(total("diskHits")).toBe(3);
      expect(total("loads")).toBe(4);
      expect(total("repairs")).toBe(0);
    }, 120_000);

    it("a process killed mid-download leaves nothing that is served; the next load repairs the entry", async () => {
      const { ref } = await CounterModel.withVersion("v1", 2 * 1024 * 1024).saveRemote({
        store,
        pluginInstanceId: id,
      });
      const victim = startChild(childArgs({ slowChunkMs: 50 }), loc.env);
      children.push(victim.child);
      victim.result.catch(() => {});
      const deadline = Date.now() + 30_000;
      while (!victim.stdout().includes("downloading")) {
        if (Date.now() > deadline || victim.child.exitCode !== null)
          throw new Error("the child never started downloading");
        await new Promise((r) => setTimeout(r, 10));
      }
      victim.child.kill("SIGKILL");
      await new Promise((r) => victim.child.once("close", r));

      const instanceDir = join(diskDir, "v2", WS, id);
      const hex = ref.digest.slice(7);
      const left = await readdir(instanceDir);
      expect(left).toContain(`${hex}.lock`); // the dead process's lock
      expect(left).not.toContain(`${hex}.complete.json`);

      // The next load, in this process (a fresh cache), breaks the dead pid's lock and repairs.
      const cache = createModelCache({
        store,
        diskDir,
        logger: { warn: () => {} },
        lockStaleMs: 600_000,
      });
      const started = Date.now();
      const model = await CounterModel.loadRemote({ store, pluginInstanceId: id, cache });
      expect(model.version).toBe("v1");
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(cache.stats()).toMatchObject({ downloads: 1 });
      await cache.close();
      const after = await readdir(instanceDir);
      expect(after).not.toContain(`${hex}.lock`);
      expect(await readdir(join(instanceDir, ".tmp")).catch(() => [])).toEqual([]);
      await stat(join(instanceDir, `${hex}.complete.json`));

      // And a fresh process is served from disk.
      const next = startChild(childArgs(), loc.env);
      children.push(next.child);
      const result = await next.result;
      expect(result.version).toBe("v1");
      expect(result.stats).toMatchObject({ downloads: 0, diskHits: 1, repairs: 0 });
    }, 120_000);
  });
}
