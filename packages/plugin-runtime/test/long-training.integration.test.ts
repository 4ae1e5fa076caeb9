import type { PostUpdate } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createHttpPluginClient,
  createLocalEngine,
  createPluginApp,
  type LocalEngine,
  type ServedPlugin,
  servePlugin,
  type TaskEvent,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { ExternalTagger, fakeJobs, KeywordTagger, sleep } from "./__fixtures__/plugins.mjs";

/**
 * Trainings that outlast any request: the plugin server answers `POST /train` within
 * `answerWithinMs` and the engine follows the task's event stream, which the server ends
 * every `maxStreamMs` (so the engine reconnects many times with Last-Event-ID). Real time is
 * shortened — 2 s of training against a 150 ms answer bound and 300 ms streams — so the
 * training lasts ~13 answer bounds and ~7 streams, the same shape as hours against minutes.
 * (The ≥ 6-minute run against the real defaults is in tests/reliability.)
 */
describe("a training longer than any request, over HTTP", () => {
  let env: TestEnv;
  let engine: LocalEngine;
  let served: ServedPlugin;
  let eventRequests: string[];
  let trainRequests: number;

  async function serve(service: KeywordTagger | ExternalTagger) {
    const app = createPluginApp(service, {
      store: env.store,
      allowInstanceRegistration: true,
      dataDir: env.dir("server"),
      logger: silentLogger,
      tasks: { answerWithinMs: 150, maxStreamMs: 300, heartbeatMs: 50 },
    });
    // Count the requests the engine makes (a middleware in front of the app's routes).
    const outer = new (await import("hono")).Hono();
    outer.use("*", async (c, next) => {
      if (c.req.path.endsWith("/events")) eventRequests.push(c.req.header("last-event-id") ?? "");
      if (c.req.path === "/train") trainRequests++;
      await next();
    });
    outer.route("/", app);
    served = await servePlugin(outer, { port: 0 });
    return served;
  }

  beforeEach(async () => {
    env = await createTestEnv();
    eventRequests = [];
    trainRequests = 0;
    engine = await createLocalEngine({
      store: env.store,
      cache: env.cache,
      dataDir: env.dir("engine"),
      pollPolicy: { initialDelayMs: 10, minDelayMs: 5 },
      logger: silentLogger,
    });
  });

  afterEach(async () => {
    await engine.close();
    await served?.close();
    await env.cleanup();
  });

  it("an in-process training of 2 s succeeds through the engine, progress arriving while it runs", async () => {
    await serve(new KeywordTagger());
    engine.registerPlugin("kw", createHttpPluginClient(served.url));
    await engine.createInstance({ id: "long", plugin: "kw", config: { tagKind: "kw" } });
    const updates: Array<{ at: number; update: PostUpdate }> = [];
    let finishedAt = 0;
    const off = engine.on("task", (event: TaskEvent) => {
      if (event.type === "update" && event.update)
        updates.push({ at: Date.now(), update: event.update });
      if (event.type === "finished") finishedAt = Date.now();
    });
    const task = await engine.train("long", {
      trainingEpochs: 20,
      trainingParams: { keywords: ["slow"], epochMs: 100 },
    });
    off();
    expect(task.state, task.error?.message).toBe("succeeded");
    // Progress arrived live: most updates well before the end, in order, all 20 of them.
    const fractions = updates.map((u) => u.update.output?.trainingProgress?.fraction);
    expect(fractions).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) / 20));
    expect(task.progress).toMatchObject({ fraction: 1 });
    expect(updates.filter((u) => u.at < finishedAt - 500).length).toBeGreaterThanOrEqual(10);
    // One train call; the stream was reopened several times, from the last event seen.
    expect(trainRequests).toBe(1);
    expect(eventRequests.length).toBeGreaterThanOrEqual(3);
    expect(eventRequests[0]).toBe("0");
    expect(eventRequests.slice(1).every((id) => Number(id) > 0)).toBe(true);
    // One save, and the model serves.
    const ref = await env.store.resolve({ pluginInstanceId: "long" });
    expect(task.checkpoint?.archivePath).toBe(ref.archivePath);
    const output = await engine.run("long", {
      file: { blocks: [{ text: "slow down" }] },
    });
    expect(JSON.stringify(output)).toContain("slow");
  });

  it("an external job: the hosted call answers running, the engine checks the job to the end", async () => {
    await serve(new ExternalTagger());
    const jobsDir = env.dir("jobs");
    engine.registerPlugin("ext", createHttpPluginClient(served.url));
    await engine.createInstance({
      id: "ext",
      plugin: "ext",
      config: { jobsDir, tagKind: "kw" },
    });
    const task = await engine.train("ext", {
      trainingParams: { keywords: ["remote"], jobMs: 400, checksNeeded: 3, submitMs: 400 },
    });
    expect(task.state, task.error?.message).toBe("succeeded");
    expect(await fakeJobs.count(jobsDir)).toBe(1);
    expect(task.statusChecks).toBeGreaterThanOrEqual(1);
  });

  it("a client that drops the connection does not cancel the training; an original poller gets it", async () => {
    await serve(new KeywordTagger());
    const body = {
      data: {
        pluginInstance: "poller",
        trainingEpochs: 6,
        trainingParams: { keywords: ["polled"], epochMs: 100 },
      },
      context: { pluginInstanceId: "poller" },
      status: { taskId: "poll-1", state: "waiting" },
    };
    await fetch(`${served.url}/instances/poller`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ config: { tagKind: "kw" } }),
    });
    const first = await fetch(`${served.url}/train`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(first.status).toBe(202);
    const answer = (await first.json()) as {
      status: { state: string; remoteStatusInput: unknown };
    };
    expect(answer.status.state).toBe("running");
    expect(answer.status.remoteStatusInput).toEqual({ hostedTask: "poll-1" });

    // Resumable events: from event 2 on, the first one replayed is 3.
    const events = await fetch(`${served.url}/tasks/poll-1/events`, {
      headers: { "last-event-id": "2" },
    });
    const reader = events.body!.getReader();
    let text = "";
    while (!/\nid: \d+/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text.match(/\nid: (\d+)/)?.[1]).toBe("3");

    // The original polling shape: trainStatus with the remoteStatusInput it was given.
    let state = "running";
    let final: Record<string, unknown> = {};
    for (let i = 0; i < 100 && state === "running"; i++) {
      await sleep(50);
      const check = await fetch(`${served.url}/train`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          ...body,
          isStatusCheck: true,
          status: {
            taskId: "poll-1",
            state: "running",
            remoteStatusInput: answer.status.remoteStatusInput,
          },
        }),
      });
      final = (await check.json()) as Record<string, unknown>;
      state = (final.status as { state: string }).state;
    }
    expect(state, JSON.stringify(final)).toBe("succeeded");
    expect((final.data as { archivePath?: string }).archivePath).toEqual(expect.any(String));
    const task = (await (await fetch(`${served.url}/tasks/poll-1`)).json()) as {
      task: { state: string; progress: { fraction: number } };
    };
    expect(task.task).toMatchObject({ state: "succeeded", progress: { fraction: 1 } });

    // A caller that hangs up before any answer: the training goes on all the same.
    const dropped = new AbortController();
    const hangUp = fetch(`${served.url}/train`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body, status: { taskId: "poll-2", state: "waiting" } }),
      signal: dropped.signal,
    }).catch((error: unknown) => error);
    await sleep(50);
    dropped.abort();
    expect(await hangUp).toBeInstanceOf(Error);
    let after = "running";
    for (let i = 0; i < 100 && after === "running"; i++) {
      await sleep(50);
      const polled = (await (await fetch(`${served.url}/tasks/poll-2`)).json()) as {
        task: { state: string };
      };
      after = polled.task.state;
    }
    expect(after).toBe("succeeded");
  });

  it("cancel stops a hosted training and the plugin's job", async () => {
    await serve(new KeywordTagger());
    engine.registerPlugin("kw", createHttpPluginClient(served.url));
    await engine.createInstance({ id: "cx", plugin: "kw", config: { tagKind: "kw" } });
    const run = await engine.startTraining("cx", {
      trainingEpochs: 50,
      trainingParams: { keywords: ["never"], epochMs: 100 },
    });
    await sleep(500);
    await engine.cancel(run.taskId);
    const task = await run.done;
    expect(task.state).toBe("cancelled");
    const hosted = (await (await fetch(`${served.url}/tasks/${run.taskId}`)).json()) as {
      task: { state: string };
    };
    expect(hosted.task.state).toBe("cancelled");
    await expect(env.store.resolve({ pluginInstanceId: "cx" })).rejects.toThrow();
  });
});
