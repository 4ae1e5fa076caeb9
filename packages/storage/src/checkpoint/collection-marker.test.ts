import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryBackend } from "../backends/memory-backend.js";
import { announceCollection, collectionsPrefix, waitForCollections } from "./collection-marker.js";
import { createCheckpointStore } from "./create-checkpoint-store.js";

const scope = { workspace: "ws", pluginInstanceId: "inst" };
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("garbage collection markers", () => {
  it("a save waits for a running collection and not for a finished one", async () => {
    const backend = createMemoryBackend();
    await waitForCollections(backend, scope); // none: at once
    const lease = await announceCollection(backend, scope, { leaseMs: 60_000 });
    let waited = false;
    const waiting = waitForCollections(backend, scope).then(() => {
      waited = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(waited).toBe(false);
    await lease.release();
    await waiting;
    expect(waited).toBe(true);
    const left = [];
    for await (const info of backend.list(collectionsPrefix(scope))) left.push(info.key);
    expect(left).toEqual([]);
  });

  it("a marker left by a crashed collection is stale after the lease and removed", async () => {
    const backend = createMemoryBackend();
    await backend.put(`${collectionsPrefix(scope)}000000000000001-dead.json`, Buffer.from("{}"));
    const started = Date.now();
    await waitForCollections(backend, scope, { leaseMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    const left = [];
    for await (const info of backend.list(collectionsPrefix(scope))) left.push(info.key);
    expect(left).toEqual([]);
  });

  it("a live collection keeps its marker fresh, so waiting saves do not give up on it", async () => {
    const backend = createMemoryBackend();
    const lease = await announceCollection(backend, scope, { leaseMs: 300 });
    let waited = false;
    const waiting = waitForCollections(backend, scope, { leaseMs: 300 }).then(() => {
      waited = true;
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(waited).toBe(false);
    lease.assertHeld();
    await lease.release();
    await waiting;
  });

  it("gc removes temp files of killed uploads, not those of live writers", async () => {
    const root = await mkdtemp(join(tmpdir(), "gc-sweep-"));
    dirs.push(root);
    const store = await createCheckpointStore({ url: `file://${root}`, workspace: "ws" });
    const folder = await mkdtemp(join(tmpdir(), "gc-sweep-src-"));
    dirs.push(folder);
    await writeFile(join(folder, "a.txt"), "a");
    await store.save({ pluginInstanceId: "inst", handle: "v1", folder });
    const blobs = join(root, "ws", "inst", "blobs", "sha256");
    const host =
      hostname()
        .replace(/[^A-Za-z0-9-]/g, "-")
        .slice(0, 64) || "host";
    const dead = spawnSync(process.execPath, [
      "-e",
      "process.stdout.write(String(process.pid))",
    ]).stdout.toString();
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, `.~tmp.${host}.${dead}.00ff`), "partial upload");
    await writeFile(join(blobs, `.~tmp.${host}.${process.pid}.00aa`), "in flight");
    await writeFile(join(blobs, ".~tmp.otherhost.1.00bb"), "another machine, recent");
    const result = await store.gc({ pluginInstanceId: "inst", minAgeMs: 0 });
    expect(result.leftovers).toEqual({ removed: 1, bytes: "partial upload".length });
    const left = (await readdir(blobs)).filter((n) => n.startsWith(".~tmp.")).sort();
    expect(left).toEqual([`.~tmp.${host}.${process.pid}.00aa`, ".~tmp.otherhost.1.00bb"].sort());
    await store.fetch({ pluginInstanceId: "inst", handle: "v1", target: join(root, "out") });
  });
});
