/**
 * `trainable dashboard` and `/ui` of `trainable serve` over a real socket (spawned binaries):
 * the page and its assets, the API's answers against the store and the task log, live events,
 * cancel through a cancel request, and who may do what — loopback without a token (Host
 * checked: no DNS rebinding), beyond loopback read-only, with a token everything behind it;
 * a mutation needs the page's header and a same-origin request; every input is validated.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import "../../../tools/redis-server/redis-test-config.js";
import { readEvents } from "./__fixtures__/read-events.js";
import { bin, spawnCli } from "./__fixtures__/spawn-cli.js";
import { raw, type Started, startServer } from "./__fixtures__/start-server.js";

const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");
const TOKEN = "dashboard-token-0123456789abcdef";
const MUTATE = { "content-type": "application/json", "x-trainable-dashboard": "1" };

let cwd: string;
const servers: Started[] = [];

async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const s = await startServer(cwd, args, { env });
  servers.push(s);
  return s;
}

const train = (handle: string, params: string[] = []) =>
  spawnCli(cwd, [
    "train",
    "--plugin",
    plugin,
    "--instance",
    "words",
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

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "trainable-dashboard-"));
  for (const handle of ["v1", "v2"]) {
    const r = await train(handle);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("trainable dashboard on loopback, without a token", () => {
  it("serves the page and its assets with a strict CSP, and the API reads the store and task log", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    const page = await raw(`${d.url}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('src="./assets/app.js"');
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    const js = await raw(`${d.url}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect((await raw(`${d.url}/assets/..%2Fbin.js`)).status).toBe(404);

    const info = (await raw(`${d.url}/api/info`)).json();
    expect(info).toMatchObject({ source: "local", readOnly: false, tokenRequired: false });
    const { instances } = (await raw(`${d.url}/api/instances`)).json();
    expect(instances).toHaveLength(1);
    expect(instances[0]).toMatchObject({ id: "words", plugin: "echo-plugin", trainings: 2 });
    const store = await storeOf();
    const v2 = await store.resolve({ pluginInstanceId: "words", handle: "v2" });
    expect(instances[0].default).toMatchObject({ digest: v2.digest, metrics: { accuracy: 0.53 } });
    const { checkpoints } = (await raw(`${d.url}/api/instances/words/checkpoints`)).json();
    expect(checkpoints.map((c: { handle: string }) => c.handle).sort()).toEqual([
      "default",
      "v1",
      "v2",
    ]);
    expect(checkpoints.find((c: { handle: string }) => c.handle === "v2")).toMatchObject({
      digest: v2.digest,
      size: v2.size,
      files: 1,
      isDefault: true,
      parent: v2.parent ?? null,
    });
    const { tasks } = (await raw(`${d.url}/api/tasks`)).json();
    expect(tasks.map((t: { save: { handle: string } }) => t.save.handle)).toEqual(["v2", "v1"]);
    await store.close();
  });

  it("refuses a Host that is not loopback (DNS rebinding), and cross-site mutations", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    const port = new URL(d.url).port;
    const rebound = await raw(`${d.url}/api/instances`, { headers: { host: `evil.test:${port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.json().error.message).toMatch(/Host header "evil.test/);
    expect(
      (await raw(`${d.url}/api/info`, { headers: { host: `localhost:${port}` } })).status,
    ).toBe(200);

    const prune = `${d.url}/api/instances/words/prune`;
    const body = JSON.stringify({ keepLast: 0, dryRun: true });
    // A form or a simple cross-site fetch cannot send the page's header.
    const plain = await raw(prune, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body,
    });
    expect(plain.status).toBe(403);
    expect(plain.json().error.message).toMatch(/x-trainable-dashboard/);
    const other = await raw(prune, {
      method: "POST",
      headers: { ...MUTATE, origin: "http://evil.test" },
      body,
    });
    expect(other.status).toBe(403);
    expect(other.json().error.message).toMatch(/another origin/);
    const site = await raw(prune, {
      method: "POST",
      headers: { ...MUTATE, "sec-fetch-site": "cross-site" },
      body,
    });
    expect(site.status).toBe(403);
    const notJson = await raw(prune, {
      method: "POST",
      headers: { "x-trainable-dashboard": "1", "content-type": "text/plain" },
      body,
    });
    expect(notJson.status).toBe(400);
    const same = await raw(prune, {
      method: "POST",
      headers: { ...MUTATE, origin: d.url, "sec-fetch-site": "same-origin" },
      body,
    });
    expect(same.status, same.text).toBe(200);
    expect(same.json()).toMatchObject({ kept: ["default"], deleted: ["v1", "v2"], dryRun: true });
  });

  it("validates every input, naming the field, and changes nothing on a refusal", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    const post = (path: string, body: unknown) =>
      raw(`${d.url}/api/${path}`, { method: "POST", headers: MUTATE, body: JSON.stringify(body) });
    const cases: [string, unknown, number, RegExp][] = [
      ["instances/words/prune", { dryRun: true }, 400, /keepLast: give keepLast/],
      ["instances/words/prune", { keepBest: 1, dryRun: true }, 400, /metric: keepBest needs/],
      ["instances/words/prune", { keepLast: -1, dryRun: true }, 400, /keepLast/],
      ["instances/words/prune", { keepLast: 1 }, 400, /dryRun/],
      ["instances/words/prune", { keepLast: 1, dryRun: true, extra: 1 }, 400, /extra/],
      ["instances/words/prune", { keepLast: 1, dryRun: true, protect: ["../x"] }, 400, /protect/],
      ["instances/words/prune", { keepBest: 1, metric: "a b", dryRun: true }, 400, /metric/],
      ["instances/bad%20id/prune", { keepLast: 1, dryRun: true }, 400, /instance id/],
      ["instances/words/default", { handle: "nope" }, 404, /nope/],
      ["instances/words/default", { handle: "default" }, 400, /handle/],
      ["instances/words/default", {}, 400, /handle/],
      ["tasks/not%20an%20id/cancel", {}, 400, /task id/],
      ["tasks/unknown-task/cancel", {}, 404, /unknown-task/],
    ];
    for (const [path, body, status, message] of cases) {
      const answer = await post(path, body);
      expect(answer.status, `${path} ${JSON.stringify(body)}: ${answer.text}`).toBe(status);
      expect(answer.json().error.message).toMatch(message);
    }
    const del = await raw(`${d.url}/api/instances/words/checkpoints/default`, {
      method: "DELETE",
      headers: MUTATE,
    });
    expect(del.status).toBe(400);
    const big = await post("instances/words/prune", {
      keepLast: 1,
      dryRun: true,
      pad: "x".repeat(70_000),
    });
    expect(big.status).toBe(413);
    // The preview no longer matches: nothing is deleted.
    const { deletedRefs } = (
      await post("instances/words/prune", { keepLast: 0, dryRun: true })
    ).json() as { deletedRefs: { handle: string }[] };
    const stale = await post("instances/words/prune", {
      keepLast: 0,
      dryRun: false,
      expectDeleted: deletedRefs.filter((r) => r.handle === "v1"),
    });
    expect(stale.status).toBe(409);
    expect(stale.json().error.message).toMatch(
      /changed since the preview: the rules now also delete v2/,
    );
    const store = await storeOf();
    expect((await store.list({ pluginInstanceId: "words" })).map((r) => r.handle).sort()).toEqual([
      "default",
      "v1",
      "v2",
    ]);
    await store.close();
  });

  it("sets default and deletes a handle, as the store then says", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    const store = await storeOf();
    const v1 = await store.resolve({ pluginInstanceId: "words", handle: "v1" });
    const moved = await raw(`${d.url}/api/instances/words/default`, {
      method: "POST",
      headers: MUTATE,
      body: JSON.stringify({ handle: "v1" }),
    });
    expect(moved.status, moved.text).toBe(200);
    expect((await store.resolve({ pluginInstanceId: "words" })).digest).toBe(v1.digest);
    const gone = await raw(`${d.url}/api/instances/words/checkpoints/v2`, {
      method: "DELETE",
      headers: MUTATE,
    });
    expect(gone.status, gone.text).toBe(200);
    expect((await store.list({ pluginInstanceId: "words" })).map((r) => r.handle).sort()).toEqual([
      "default",
      "v1",
    ]);
    await store.close();
  });

  it("streams task events (snapshot, then live updates) and cancels a training another process drives", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    const { seen, until, close } = await readEvents(`${d.url}/api/events`);
    await until(/event: snapshot\n/);
    const training = train("slow", ["--param", "sleepMs=1500"]);
    await until(/event: task\ndata: .*"type":"update"/);
    const taskId = /"taskId":"([^"]+)","instanceId":"words"[^\n]*"handle":"slow"/.exec(
      seen.text,
    )?.[1];
    expect(taskId).toBeDefined();
    const cancel = await raw(`${d.url}/api/tasks/${taskId}/cancel`, {
      method: "POST",
      headers: MUTATE,
    });
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.json()).toMatchObject({ requested: false, task: { state: "cancelled" } });
    await until(/"type":"finished"/);
    close();
    const ended = await training;
    expect(ended.code).toBe(1);
    // The engine driving it (in `trainable train`) honoured the request by itself.
    expect(ended.stderr).toMatch(/cancelled: Training cancelled: requested by another process/);
  });
});

describe("shutting down", () => {
  it("SIGTERM ends the open event streams cleanly (the page reconnects), then the server exits 0", async () => {
    const d = await startServer(cwd, ["dashboard", "--port", "0"]);
    const response = await fetch(`${d.url}/api/events`);
    const reader = response.body!.getReader();
    await reader.read(); // the snapshot
    const exit = d.stop();
    // A stream ended by the server (not cut when a shutdown timeout closes every socket).
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect(await exit).toBe(0);
  });
});

describe("who may change things", () => {
  it("beyond loopback without a token: read-only, with a warning", async () => {
    const d = await start(["dashboard", "--port", "0", "--host", "0.0.0.0"]);
    expect(d.output()).toMatch(
      /warning: the dashboard on 0\.0\.0\.0 has no token: it is read-only/,
    );
    const url = d.url.replace("0.0.0.0", "127.0.0.1");
    expect((await raw(`${url}/api/info`)).json()).toMatchObject({ readOnly: true });
    expect((await raw(`${url}/api/instances`)).status).toBe(200);
    const refused = await raw(`${url}/api/instances/words/prune`, {
      method: "POST",
      headers: MUTATE,
      body: JSON.stringify({ keepLast: 0, dryRun: false }),
    });
    expect(refused.status).toBe(403);
    expect(refused.json().error.message).toMatch(/read-only.*--token/);
  });

  it("with a token: the page is public, its data and actions need the token", async () => {
    const d = await start(["dashboard", "--port", "0", "--host", "0.0.0.0"], {
      TRAINABLE_TOKEN: TOKEN,
    });
    expect(d.output()).not.toContain(TOKEN);
    const url = d.url.replace("0.0.0.0", "127.0.0.1");
    expect((await raw(`${url}/`)).status).toBe(200);
    expect((await raw(`${url}/api/info`)).status).toBe(401);
    expect((await raw(`${url}/api/events`)).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await raw(`${url}/api/info`, { headers: auth })).json()).toMatchObject({
      readOnly: false,
      tokenRequired: true,
    });
    const dry = await raw(`${url}/api/instances/words/prune`, {
      method: "POST",
      headers: { ...MUTATE, ...auth },
      body: JSON.stringify({ keepLast: 0, dryRun: true }),
    });
    expect(dry.status, dry.text).toBe(200);
    const short = await spawnCli(cwd, ["dashboard", "--port", "0", "--token", "short"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/Invalid --token: must be 16/);
  });

  it("/ui of trainable serve: behind the server's token (the page itself is public)", async () => {
    const s = await start(["serve", "--plugin", plugin, "--port", "0", "--token", TOKEN]);
    expect(s.output()).toMatch(/dashboard on http:\/\/127\.0\.0\.1:\d+\/ui\//);
    const redirect = await raw(`${s.url}/ui`);
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe("/ui/");
    const page = await raw(`${s.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("./assets/app.js");
    expect((await raw(`${s.url}/ui/assets/app.js`)).status).toBe(200);
    expect((await raw(`${s.url}/ui/api/instances`)).status).toBe(401);
    expect((await raw(`${s.url}/ui/api/events`)).status).toBe(401);
    // The public page's paths lead nowhere else, however spelled.
    for (const path of [
      "/ui/assets/../api/instances",
      "/ui/assets/%2e%2e/api/instances",
      "/ui/assets/app.js/../../api/info",
      "/ui//api/info",
      "/ui/assets/../../train",
    ]) {
      expect([401, 404], path).toContain((await raw(`${s.url}${path}`)).status);
      expect((await raw(`${s.url}${path}`)).text, path).not.toContain('"instances"');
    }
    const auth = { authorization: `Bearer ${TOKEN}` };
    const stream = await readEvents(`${s.url}/ui/api/events`, auth);
    await stream.until(/event: snapshot\ndata: \{"tasks":\[/);
    stream.close();
    const instances = await raw(`${s.url}/ui/api/instances`, { headers: auth });
    expect(instances.status).toBe(200);
    expect(instances.json().instances.map((i: { id: string }) => i.id)).toContain("words");
    const noHeader = await raw(`${s.url}/ui/api/instances/words/prune`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ keepLast: 0, dryRun: true }),
    });
    expect(noHeader.status).toBe(403);
    // The plugin's own routes are as protected as before.
    expect((await raw(`${s.url}/train`, { method: "POST", body: "{}" })).status).toBe(401);

    const off = await start(["serve", "--plugin", plugin, "--port", "0", "--no-ui"]);
    expect((await raw(`${off.url}/ui/`)).status).toBe(404);
  });
});

describe("trainable dashboard --queue (the distributed engine on Redis)", () => {
  it("shows the queue's instances and trainings live, and cancels one through its worker", async () => {
    const redis = inject("redis");
    const queue = `${redis.url}?queue=d${randomBytes(4).toString("hex")}&prefix=${redis.prefix}`;
    const worker = await startServer(cwd, ["worker", "--queue", queue, "--plugin", plugin], {
      pattern: /(worker for echo-plugin)/,
    });
    servers.push(worker);
    const d = await start(["dashboard", "--port", "0", "--queue", queue]);
    expect((await raw(`${d.url}/api/info`)).json()).toMatchObject({ source: "queue" });
    const { seen, until, close } = await readEvents(`${d.url}/api/events`);
    await until(/event: snapshot\ndata: \{"tasks":\[\]\}/);
    const training = spawnCli(
      cwd,
      [
        "train",
        "--plugin",
        plugin,
        "--instance",
        "queued",
        "--param",
        "word=q",
        "--param",
        "sleepMs=2000",
      ],
      { env: { TRAINABLE_QUEUE: queue } },
    );
    await until(/"type":"update"/);
    const taskId = /"taskId":"([^"]+)","instanceId":"queued"/.exec(seen.text)?.[1];
    expect(taskId).toBeDefined();
    const { instances } = (await raw(`${d.url}/api/instances`)).json();
    // The queue's instance, and those with checkpoints in the store ("words", trained locally).
    expect(instances).toMatchObject([
      { id: "queued", plugin: "echo-plugin", running: 1 },
      { id: "words", trainings: 0 },
    ]);
    const cancel = await raw(`${d.url}/api/tasks/${taskId}/cancel`, {
      method: "POST",
      headers: MUTATE,
    });
    expect([200, 202]).toContain(cancel.status);
    await until(/"type":"finished"[^\n]*"state":"cancelled"/);
    close();
    const ended = await training;
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/cancelled/);
  });
});

describe("instances known only from the store", () => {
  it("an instance whose checkpoints were only pushed is listed, with its default if it has one", async () => {
    const folder = join(cwd, "pushed-model");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "weights.txt"), "pushed weights");
    for (const [instance, extra] of [
      ["pushed-only", []],
      ["pushed-no-default", ["--no-default"]],
    ] as const) {
      const r = await spawnCli(cwd, [
        "checkpoints",
        "push",
        folder,
        "--instance",
        instance,
        "--handle",
        "v1",
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    const store = await storeOf();
    const pushed = await store.resolve({ pluginInstanceId: "pushed-only", handle: "default" });
    await store.close();
    const d = await start(["dashboard", "--port", "0"]);
    const answer = await raw(`${d.url}/api/instances`);
    expect(answer.status, answer.text).toBe(200);
    const rows = answer.json().instances as {
      id: string;
      plugin?: string;
      default: { handle: string; digest: string } | null;
    }[];
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort());
    const only = rows.find((r) => r.id === "pushed-only");
    expect(only).toMatchObject({ trainings: 0, running: 0, default: { digest: pushed.digest } });
    expect(only?.plugin).toBeUndefined();
    const noDefault = rows.find((r) => r.id === "pushed-no-default");
    expect(noDefault).toMatchObject({ trainings: 0, default: null });
    expect(noDefault).not.toHaveProperty("defaultError");
    // Instances of the task log are still there, with what the engine knows of them.
    expect(rows.find((r) => r.id === "words")).toMatchObject({ plugin: "echo-plugin" });
    const { checkpoints } = (await raw(`${d.url}/api/instances/pushed-only/checkpoints`)).json();
    expect(checkpoints.map((c: { handle: string }) => c.handle).sort()).toEqual(["default", "v1"]);

    // A read-only dashboard lists them too.
    const ro = await start(["dashboard", "--port", "0", "--host", "0.0.0.0"]);
    const shown = (await raw(`${ro.url.replace("0.0.0.0", "127.0.0.1")}/api/instances`)).json();
    expect(shown.instances.map((r: { id: string }) => r.id)).toEqual(
      expect.arrayContaining(["pushed-only", "pushed-no-default", "words"]),
    );
  });
});

describe("a store in trouble", () => {
  it("an instance whose default ref is damaged shows the error on its row; the others still list", async () => {
    const trained = await spawnCli(cwd, [
      "train",
      "--plugin",
      plugin,
      "--instance",
      "broken",
      "--param",
      "word=x",
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const refs = join(cwd, ".trainable", "store", "local", "broken", "refs", "default");
    const [newest] = (await readdir(refs)).sort();
    await writeFile(join(refs, newest as string), "{ not json");
    const d = await start(["dashboard", "--port", "0"]);
    const answer = await raw(`${d.url}/api/instances`);
    expect(answer.status, answer.text).toBe(200);
    const rows = answer.json().instances as {
      id: string;
      default: unknown;
      defaultError?: string;
    }[];
    const broken = rows.find((r) => r.id === "broken");
    expect(broken?.default).toBeNull();
    expect(broken?.defaultError).toMatch(/\S/);
    expect(rows.find((r) => r.id === "words")?.default).not.toBeNull();
  });
});

describe("cancel requests reach `trainable resume` too", () => {
  it("a training resumed after its process died is cancelled from the dashboard by the resuming process", async () => {
    const d = await start(["dashboard", "--port", "0"]);
    // A training whose process is killed mid-way: its record stays `running`.
    const { seen, until, close } = await readEvents(`${d.url}/api/events`);
    const killed = spawn(
      process.execPath,
      [
        bin,
        "train",
        "--plugin",
        plugin,
        "--instance",
        "resumed",
        "--param",
        "word=r",
        "--param",
        "sleepMs=3000",
      ],
      { cwd, env: { ...process.env, NODE_NO_WARNINGS: "1" }, stdio: "ignore" },
    );
    await until(/"type":"update","taskId":"[^"]+","task":\{[^\n]*"instanceId":"resumed"/);
    const taskId = /"taskId":"([^"]+)","instanceId":"resumed"/.exec(seen.text)?.[1] as string;
    killed.kill("SIGKILL");
    await new Promise((resolve) => killed.once("exit", resolve));
    const resume = spawnCli(cwd, ["resume", "--plugin", plugin]);
    await until(new RegExp(`"taskId":"${taskId}"[^\\n]*"attempts":2`));
    const cancel = await raw(`${d.url}/api/tasks/${taskId}/cancel`, {
      method: "POST",
      headers: MUTATE,
    });
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.json().task.state).toBe("cancelled");
    close();
    const resumed = await resume;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`task ${taskId} (resumed): cancelled`);
  });
});
