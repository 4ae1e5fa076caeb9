/**
 * The dashboard's answers to a hostile review, over a real socket: the Host rule on every bind
 * (`--allowed-host`), a prune that deletes exactly what the preview showed (names and
 * digests), the gc age floor, the caps on event streams and pending cancels, `default` under
 * any case, and what a read-only dashboard keeps to itself (configs, absolute paths).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { RemoteError } from "@trainable/core";
import { servePlugin } from "@trainable/plugin-runtime";
import { createCheckpointStore, createMemoryBackend, type RemoteBackend } from "@trainable/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDashboardApp } from "../src/dashboard/create-dashboard-app.js";
import { createLocalTaskSource } from "../src/dashboard/local-task-source.js";
import { bin, spawnCli } from "./__fixtures__/spawn-cli.js";
import { raw, type Started, startServer } from "./__fixtures__/start-server.js";

const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");
const MUTATE = { "content-type": "application/json", "x-trainable-dashboard": "1" };

let cwd: string;
const servers: Started[] = [];
const closers: (() => Promise<unknown>)[] = [];

async function start(args: string[]): Promise<Started> {
  const s = await startServer(cwd, ["dashboard", "--port", "0", ...args]);
  servers.push(s);
  return s;
}

const train = (instance: string, handle: string, params: string[] = []) =>
  spawnCli(cwd, [
    "train",
    "--plugin",
    plugin,
    "--instance",
    instance,
    "--handle",
    handle,
    "--param",
    "word=cat",
    ...params,
  ]);

const storeOf = () =>
  createCheckpointStore({
    url: pathToFileURL(join(cwd, ".trainable", "store")).href,
    workspace: "local",
  });

const handlesOf = async (instance: string) => {
  const store = await storeOf();
  try {
    return (await store.list({ pluginInstanceId: instance })).map((r) => r.handle).sort();
  } finally {
    await store.close();
  }
};

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "trainable-dashboard-review-"));
  for (const [instance, handle] of [
    ["words", "v1"],
    ["words", "v2"],
    ["pruned", "p1"],
    ["pruned", "p2"],
  ] as const) {
    const r = await train(instance, handle, ["--config", '{"kind":"plugin-secret-1234"}']);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const close of closers.splice(0)) await close();
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("the Host header, on every bind (DNS rebinding)", () => {
  it("beyond loopback: refuses a domain name that is not --allowed-host; accepts IP literals and loopback names", async () => {
    const d = await start(["--host", "0.0.0.0", "--allowed-host", "dash.example.org"]);
    const url = d.url.replace("0.0.0.0", "127.0.0.1");
    const port = new URL(url).port;
    const rebound = await raw(`${url}/api/instances`, {
      headers: { host: `attacker.example:${port}` },
    });
    expect(rebound.status).toBe(403);
    expect(rebound.json().error.message).toMatch(/Host header "attacker\.example.*--allowed-host/);
    expect(rebound.text).not.toContain("words");
    for (const host of [
      `127.0.0.1:${port}`,
      "10.1.2.3",
      `[::1]:${port}`,
      "[fe80::1]",
      `localhost:${port}`,
      `dash.example.org:${port}`,
      "DASH.Example.org",
    ]) {
      expect((await raw(`${url}/api/info`, { headers: { host } })).status, host).toBe(200);
    }
    for (const host of ["dash.example.org.evil.test", "127.0.0.1.evil.test", "10.0.0.1.nip.io"]) {
      expect((await raw(`${url}/api/info`, { headers: { host } })).status, host).toBe(403);
    }
    // Node's parser refuses a malformed Host itself.
    expect((await raw(`${url}/api/info`, { headers: { host: "[::1" } })).status).toBe(400);
  });

  it("--allowed-host is validated", async () => {
    const bad = await spawnCli(cwd, ["dashboard", "--port", "0", "--allowed-host", "a/b"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--allowed-host/);
  });
});

describe("prune deletes what the preview showed, or nothing", () => {
  it("needs expectDeleted with digests, re-checks them, and deletes exactly those", async () => {
    const d = await start([]);
    const post = (instance: string, body: unknown) =>
      raw(`${d.url}/api/instances/${instance}/prune`, {
        method: "POST",
        headers: MUTATE,
        body: JSON.stringify(body),
      });
    const missing = await post("pruned", { keepLast: 0, dryRun: false });
    expect(missing.status).toBe(400);
    expect(missing.json().error.message).toMatch(/expectDeleted/);
    const byName = await post("pruned", { keepLast: 0, dryRun: false, expectDeleted: ["p1"] });
    expect(byName.status).toBe(400);

    const preview = await post("pruned", { keepLast: 1, dryRun: true });
    expect(preview.status, preview.text).toBe(200);
    const store = await storeOf();
    const p1 = await store.resolve({ pluginInstanceId: "pruned", handle: "p1" });
    const p2 = await store.resolve({ pluginInstanceId: "pruned", handle: "p2" });
    await store.close();
    expect(preview.json()).toEqual({
      kept: expect.arrayContaining(["default", "p2"]),
      deleted: ["p1"],
      deletedRefs: [{ handle: "p1", digest: p1.digest }],
      dryRun: true,
    });
    // Same names, another digest (p1 was re-saved since the preview): nothing is deleted.
    const other = `sha256:${"0".repeat(64)}`;
    expect(p2.digest).not.toBe(other);
    const stale = await post("pruned", {
      keepLast: 1,
      dryRun: false,
      expectDeleted: [{ handle: "p1", digest: other }],
    });
    expect(stale.status, stale.text).toBe(409);
    expect(stale.json().error.message).toMatch(/p1 now points at digest .*nothing was deleted/);
    expect(await handlesOf("pruned")).toEqual(["default", "p1", "p2"]);

    const done = await post("pruned", {
      keepLast: 1,
      dryRun: false,
      expectDeleted: preview.json().deletedRefs,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.json()).toMatchObject({ deleted: ["p1"], dryRun: false });
    expect(await handlesOf("pruned")).toEqual(["default", "p2"]);
  });

  it("gcMinAgeMs has a floor of 10 minutes", async () => {
    const d = await start([]);
    const answer = await raw(`${d.url}/api/instances/words/prune`, {
      method: "POST",
      headers: MUTATE,
      body: JSON.stringify({ keepLast: 5, dryRun: true, gcMinAgeMs: 0 }),
    });
    expect(answer.status).toBe(400);
    expect(answer.json().error.message).toMatch(/gcMinAgeMs.*600000/);
  });
});

describe("default, whatever its case", () => {
  it("refuses deleting DEFAULT or Default (a case-insensitive filesystem would delete default)", async () => {
    const d = await start([]);
    for (const handle of ["DEFAULT", "Default"]) {
      const answer = await raw(`${d.url}/api/instances/words/checkpoints/${handle}`, {
        method: "DELETE",
        headers: MUTATE,
      });
      expect(answer.status, handle).toBe(400);
      expect(answer.json().error.message).toMatch(/default/);
    }
    expect(await handlesOf("words")).toEqual(["default", "v1", "v2"]);
  });
});

describe("a read-only dashboard keeps secrets and paths to itself", () => {
  it("beyond loopback without a token: no config, no absolute path", async () => {
    const d = await start(["--host", "0.0.0.0"]);
    expect(d.output()).toMatch(/not their configs.*add --allowed-host NAME/);
    const url = d.url.replace("0.0.0.0", "127.0.0.1");
    const info = await raw(`${url}/api/info`);
    expect(info.json()).toMatchObject({ readOnly: true });
    expect(info.text).not.toContain(cwd);
    const instances = await raw(`${url}/api/instances`);
    expect(instances.status).toBe(200);
    expect(instances.text).not.toContain("plugin-secret-1234");
    expect(instances.text).not.toContain(cwd);
    expect(instances.json().instances[0]).toMatchObject({ configHidden: true });
    expect(instances.json().instances[0]).not.toHaveProperty("config");
    // Nor the trainings' inputs (params, data paths) or archive paths.
    const tasks = await raw(`${url}/api/tasks`);
    expect(tasks.json().tasks.length).toBeGreaterThan(0);
    expect(tasks.text).not.toContain("trainingParams");
    for (const task of tasks.json().tasks) expect(task.output?.archivePath).toBeUndefined();
    expect(tasks.text).not.toContain(cwd);
    // On loopback (it may change things) the config and inputs are shown.
    const local = await start([]);
    const full = await raw(`${local.url}/api/instances`);
    expect(full.text).toContain("plugin-secret-1234");
    expect((await raw(`${local.url}/api/tasks`)).text).toContain("trainingParams");
    const cancel = await raw(`${local.url}/api/tasks/no-such-task/cancel`, {
      method: "POST",
      headers: MUTATE,
    });
    expect(cancel.status).toBe(404);
    expect(cancel.text).not.toContain(cwd);
  });
});

describe("a store that cannot list its instances", () => {
  it("the engine's instances are still listed, with why (its paths scrubbed when read-only)", async () => {
    const where = "/srv/secret-mount/store/local";
    const memory = createMemoryBackend();
    const backend: RemoteBackend = {
      ...memory,
      // biome-ignore lint/correctness/useYield: a listing that fails at once
      async *listPrefixes() {
        throw new RemoteError(`[storage] [memory] listPrefixes failed: EIO reading ${where}`, {
          retryable: true,
        });
      },
    };
    const store = await createCheckpointStore({ backend, workspace: "local" });
    const tasks = createLocalTaskSource({ dataDir: join(cwd, ".trainable", "engine") });
    closers.push(
      () => tasks.close(),
      () => store.close(),
    );
    const answers: Record<string, { instances: { id: string }[]; storeError?: string }> = {};
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const app = createDashboardApp({
        store,
        tasks,
        access: { host },
        assets: new Map(),
        label: { store: "memory:", workspace: "local", engine: "local" },
      });
      const served = await servePlugin(app, { port: 0, hostname: "127.0.0.1", insecure: true });
      closers.push(() => served.close());
      const answer = await raw(`${served.url}/api/instances`);
      expect(answer.status, answer.text).toBe(200);
      answers[host] = answer.json();
    }
    for (const answer of Object.values(answers)) {
      expect(answer.instances.map((r) => r.id)).toEqual(
        expect.arrayContaining(["words", "pruned"]),
      );
    }
    expect(answers["127.0.0.1"]?.storeError).toContain(`EIO reading ${where}`);
    expect(answers["0.0.0.0"]?.storeError).toContain("EIO reading …/local");
    expect(answers["0.0.0.0"]?.storeError).not.toContain("secret-mount");
  });
});

describe("caps on what a client can hold open", () => {
  it("event streams beyond the cap get 503 with Retry-After, and a slot frees when one closes", async () => {
    const d = await start([]);
    const open: AbortController[] = [];
    try {
      // All at once: 64 streams one after another take over a minute on a loaded machine.
      const statuses = await Promise.all(
        Array.from({ length: 64 }, async () => {
          const controller = new AbortController();
          open.push(controller);
          return (await fetch(`${d.url}/api/events`, { signal: controller.signal })).status;
        }),
      );
      expect(statuses).toEqual(Array(64).fill(200));
      const refused = await raw(`${d.url}/api/events`);
      expect(refused.status).toBe(503);
      expect(refused.headers["retry-after"]).toMatch(/^\d+$/);
      expect(refused.json().error.message).toMatch(/64/);
      open.pop()?.abort();
      let status = 503;
      for (let tries = 0; status === 503 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const controller = new AbortController();
        const again = await fetch(`${d.url}/api/events`, { signal: controller.signal });
        status = again.status;
        if (status === 200) open.push(controller);
        else await again.text();
      }
      expect(status).toBe(200);
    } finally {
      for (const c of open) c.abort();
    }
  }, 180_000);

  it("cancels beyond the cap of pending ones get 503 with Retry-After", async () => {
    // A training whose process is frozen mid-way (SIGSTOP): it still drives the task (alive,
    // holding its lock) but does not act on the request, so a cancel waits.
    const frozen = spawn(
      process.execPath,
      [
        bin,
        "train",
        "--plugin",
        plugin,
        "--instance",
        "stuck",
        "--param",
        "word=s",
        "--param",
        "sleepMs=30000",
      ],
      { cwd, env: { ...process.env, NODE_NO_WARNINGS: "1" }, stdio: "ignore" },
    );
    closers.push(async () => frozen.kill("SIGKILL"));
    const dataDir = join(cwd, ".trainable", "engine");
    const tasks = createLocalTaskSource({ dataDir, cancelWaitMs: 3000 });
    const store = await storeOf();
    const app = createDashboardApp({
      store,
      tasks,
      access: { host: "127.0.0.1" },
      assets: new Map(),
      label: { store: "file:store", workspace: "local", engine: "local" },
      events: { maxPendingCancels: 1 },
    });
    const served = await servePlugin(app, { port: 0, hostname: "127.0.0.1", insecure: true });
    closers.push(
      () => served.close(),
      () => tasks.close(),
      () => store.close(),
    );
    let taskId: string | undefined;
    for (let tries = 0; !taskId && tries < 300; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const list = (await raw(`${served.url}/api/tasks`)).json().tasks as {
        taskId: string;
        instanceId: string;
        state: string;
      }[];
      taskId = list.find((t) => t.instanceId === "stuck" && t.state === "running")?.taskId;
    }
    expect(taskId).toBeDefined();
    frozen.kill("SIGSTOP");
    const cancel = () =>
      raw(`${served.url}/api/tasks/${taskId}/cancel`, { method: "POST", headers: MUTATE });
    const first = cancel();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await cancel();
    expect(second.status, second.text).toBe(503);
    expect(second.headers["retry-after"]).toMatch(/^\d+$/);
    expect((await first).status).toBe(202);
    expect((await cancel()).status).toBe(202);
  });
});
