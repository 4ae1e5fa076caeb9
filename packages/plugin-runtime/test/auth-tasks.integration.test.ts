/**
 * Status checks and cancels act only on trainings the server itself started: a task id it
 * never saw, another instance's task, or a `remoteStatusInput` it never answered is refused
 * (404 naming the task) before the plugin is called — with a plugin that WOULD act on any
 * job named in `remoteStatusInput`. The engine's HTTP client, sending back the status it
 * received, still trains and cancels; a restarted server on the same dataDir still knows
 * its trainings.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { NotFoundError, UnauthorizedError } from "@trainable/core";
import fc from "fast-check";
import type { Hono } from "hono";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { issuedTasksOf } from "../src/http/app-state.js";
import {
  createHttpPluginClient,
  createLocalEngine,
  createPluginApp,
  type ServedPlugin,
  servePlugin,
  TrainRequest,
} from "../src/index.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { fakeJobs } from "./__fixtures__/plugins.mjs";
import { call, closeAgent, RecordingJobTagger, snapshotTree } from "./auth-helpers.js";

const TOKEN = "tasks-token-0123456789abcdefABCDEF";
const SEED = 20_260_708;
/**
 * Whether train requests carry `retry` (a repeated call that continues its task — with
 * trainStatus when its job still runs). Without it, `retry` is dropped: a plain train call.
 */
const KNOWS_RETRY = "retry" in TrainRequest.shape;

afterAll(() => closeAgent());

describe("status checks and cancels of trainings this server started", () => {
  let env: TestEnv;
  let jobsDir: string;
  let plugin: RecordingJobTagger;
  let app: Hono;
  let served: ServedPlugin;

  const input = (instance = "ext") => ({
    data: {
      pluginInstance: instance,
      trainingParams: { keywords: ["ham"], checksNeeded: 1_000_000 },
    },
    context: { pluginInstanceId: instance },
  });
  // biome-ignore lint/suspicious/noExplicitAny: a status as the server answered it
  const check = (status: any, instance = "ext") => ({
    ...input(instance),
    isStatusCheck: true,
    status,
  });
  // biome-ignore lint/suspicious/noExplicitAny: a status as the server answered it
  const cancel = (status: any, instance = "ext") => ({ ...input(instance), status });

  async function start(taskId?: string, instance = "ext") {
    const body = taskId
      ? { ...input(instance), status: { taskId, state: "waiting" } }
      : input(instance);
    const answer = await call(served.url, "POST", "/train", body, TOKEN);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.status.state).toBe("running");
    return answer.json.status;
  }

  /** A job somebody else started on the same external service. */
  async function foreignJob() {
    return fakeJobs.submit(jobsDir, { keywords: ["theirs"], checksNeeded: 1_000_000 });
  }

  async function serve(dataDir?: string) {
    plugin = new RecordingJobTagger();
    app = createPluginApp(plugin, {
      store: env.store,
      instances: { ext: { config: { jobsDir } }, other: { config: { jobsDir } } },
      token: TOKEN,
      ...(dataDir ? { dataDir } : {}),
      logger: silentLogger,
    });
    served = await servePlugin(app, { port: 0 });
  }

  beforeEach(async () => {
    env = await createTestEnv();
    jobsDir = env.dir("jobs");
    await serve(env.dir("server"));
  });
  afterEach(async () => {
    await served?.close();
    await env?.cleanup();
  });

  it("polls and cancels its own training with the status it answered", async () => {
    const started = await start("own-1");
    expect(started.remoteStatusInput).toEqual({ jobId: expect.stringMatching(/^job-/), check: 0 });
    const tasks = await issuedTasksOf(app)?.list();
    expect(tasks).toEqual([
      expect.objectContaining({ taskId: "own-1", instanceId: "ext", issued: [expect.any(String)] }),
    ]);

    const first = await call(served.url, "POST", "/train", check(started), TOKEN);
    expect(first.status, first.text).toBe(200);
    expect(first.json.status.remoteStatusInput.check).toBe(1);
    const second = await call(served.url, "POST", "/train", check(first.json.status), TOKEN);
    expect(second.json.status.remoteStatusInput.check).toBe(2);
    // A client whose last answer was lost may send back an earlier one.
    const again = await call(served.url, "POST", "/train", check(first.json.status), TOKEN);
    expect(again.status, again.text).toBe(200);
    // Key order does not matter (the status may be re-serialized on the way back).
    const reordered = {
      ...second.json.status,
      remoteStatusInput: {
        check: second.json.status.remoteStatusInput.check,
        jobId: second.json.status.remoteStatusInput.jobId,
      },
    };
    expect((await call(served.url, "POST", "/train", check(reordered), TOKEN)).status).toBe(200);

    const cancelled = await call(
      served.url,
      "POST",
      "/cancelTraining",
      cancel(second.json.status),
      TOKEN,
    );
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.json.status).toMatchObject({ taskId: "own-1", state: "cancelled" });
    expect((await fakeJobs.read(jobsDir, started.remoteStatusInput.jobId)).state).toBe("cancelled");
    expect(await issuedTasksOf(app)?.list()).toEqual([]);

    // Over: neither checked nor cancelled again.
    const late = await call(
      served.url,
      "POST",
      "/cancelTraining",
      cancel(second.json.status),
      TOKEN,
    );
    expect(late.status).toBe(404);
    expect(late.json.error.message).toContain('"own-1"');
  });

  it("records a training whose id the server generated, from the status it answered", async () => {
    const started = await start();
    expect(started.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(served.url, "POST", "/train", check(started), TOKEN)).status).toBe(200);
  });

  it("refuses a forged remoteStatusInput, a foreign task and another instance's task — the plugin is never called", async () => {
    const own = await start("own-2");
    const theirs = await foreignJob();
    const theirsBefore = await fakeJobs.read(jobsDir, theirs);
    const callsBefore = plugin.trainingCalls().length;
    const forged = { ...own, remoteStatusInput: { jobId: theirs, check: 0 } };

    const attempts = [
      ["/train", check(forged)],
      ["/cancelTraining", cancel(forged)],
      [
        "/train",
        check({ taskId: "never-started", state: "running", remoteStatusInput: { jobId: theirs } }),
      ],
      [
        "/cancelTraining",
        cancel({ taskId: "never-started", state: "running", remoteStatusInput: { jobId: theirs } }),
      ],
      ["/cancelTraining", cancel({ taskId: "never-started", state: "running" })],
      ["/train", check(own, "other")],
      ["/cancelTraining", cancel(own, "other")],
      // A repeated train call (retry) continues its task with trainStatus: same rule.
      ...(KNOWS_RETRY
        ? ([
            ["/train", { ...input(), status: forged, retry: true }],
            ["/train", { ...input(), status: { ...forged, taskId: "never-started" }, retry: true }],
          ] as const)
        : []),
    ] as const;
    for (const [path, body] of attempts) {
      const answer = await call(served.url, "POST", path, body, TOKEN);
      const label = `${path} ${JSON.stringify(body.status)}`;
      expect(answer.status, `${label}: ${answer.text}`).toBe(404);
      expect(answer.json.error.code, label).toBe("NOT_FOUND");
      expect(answer.json.error.message, label).toMatch(/"own-2"|"never-started"/);
    }
    expect(plugin.trainingCalls().length).toBe(callsBefore);
    expect(await fakeJobs.read(jobsDir, theirs)).toEqual(theirsBefore);
    expect((await fakeJobs.read(jobsDir, own.remoteStatusInput.jobId)).state).toBe("running");
    // The real owner is unaffected.
    expect((await call(served.url, "POST", "/train", check(own), TOKEN)).status).toBe(200);
  });

  it("starting a training with a task id this server already runs is a conflict", async () => {
    await start("own-3");
    const dup = await call(
      served.url,
      "POST",
      "/train",
      { ...input(), status: { taskId: "own-3", state: "waiting" } },
      TOKEN,
    );
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe("CONFLICT");
  });

  it("fuzz: random task ids and remoteStatusInputs never reach the plugin", async () => {
    const own = await start("own-4");
    const theirs = await foreignJob();
    const before = {
      jobs: await snapshotTree(jobsDir),
      tasks: await issuedTasksOf(app)?.list(),
      calls: plugin.trainingCalls().length,
    };
    const issuedInput = own.remoteStatusInput as Record<string, unknown>;
    const sameAsIssued = (v: unknown) =>
      JSON.stringify(v, Object.keys(v as object).sort()) ===
      JSON.stringify(issuedInput, Object.keys(issuedInput).sort());
    const remoteStatusInput = fc
      .oneof(
        fc.constant({ jobId: theirs }),
        fc.constant({ jobId: theirs, check: 0 }),
        fc.constant({ ...issuedInput, check: 1 }),
        fc.constant({ ...issuedInput, extra: true }),
        fc.record({ jobId: fc.string({ maxLength: 40 }), check: fc.integer() }),
        fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      )
      .filter((v) => !sameAsIssued(v));
    const taskId = fc.oneof(fc.constant("own-4"), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,30}$/));
    const body = fc
      .record({
        taskId,
        remoteStatusInput: fc.option(remoteStatusInput, { nil: undefined }),
        instance: fc.constantFrom("ext", "other"),
        route: fc.constantFrom(
          ...(KNOWS_RETRY ? ["check", "cancel", "retry"] : ["check", "cancel"]),
        ),
        state: fc.constantFrom("running", "waiting"),
      })
      // The real owner's own request (its task, its instance, nothing forged) is not an attack.
      .filter(
        (b) =>
          !(
            b.taskId === "own-4" &&
            b.instance === "ext" &&
            (b.remoteStatusInput === undefined || sameAsIssued(b.remoteStatusInput))
          ),
      );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const status = {
          taskId: b.taskId,
          state: b.state,
          ...(b.remoteStatusInput ? { remoteStatusInput: b.remoteStatusInput } : {}),
        };
        const request =
          b.route === "check"
            ? check(status, b.instance)
            : b.route === "cancel"
              ? cancel(status, b.instance)
              : { ...input(b.instance), status, retry: true };
        const path = b.route === "cancel" ? "/cancelTraining" : "/train";
        const answer = await call(served.url, "POST", path, request, TOKEN);
        if (b.route === "retry" && answer.status === 200) {
          // A retry of a task this server never saw, carrying nothing forged, starts it afresh
          // (where the runtime knows `retry`); forget it again to keep the state comparable.
          expect(b.remoteStatusInput).toBeUndefined();
          expect(b.taskId).not.toBe("own-4");
          await call(
            served.url,
            "POST",
            "/cancelTraining",
            cancel(answer.json.status, b.instance),
            TOKEN,
          );
          return;
        }
        expect([404, 409], `${path} ${JSON.stringify(request)}: ${answer.text}`).toContain(
          answer.status,
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Nothing forged reached the plugin: no check, no cancel of any job but fresh retries'.
    const forgedCalls = plugin
      .trainingCalls()
      .slice(before.calls)
      .filter((c) => c.hook !== "train" && c.hook !== "getTrainingParameters")
      .filter((c) => c.remoteStatusInput !== undefined && c.taskId !== undefined)
      .filter((c) => !(c.hook === "cancelTraining" && c.taskId !== "own-4"));
    expect(forgedCalls).toEqual([]);
    expect((await fakeJobs.read(jobsDir, theirs)).state).toBe("running");
    expect((await fakeJobs.read(jobsDir, theirs)).checks).toBe(0);
    expect((await fakeJobs.read(jobsDir, own.remoteStatusInput.jobId)).checks).toBe(0);
    expect((await issuedTasksOf(app)?.list())?.map((t) => t.taskId)).toEqual(["own-4"]);
  });

  it("a restarted server on the same dataDir still knows its trainings", async () => {
    const own = await start("own-5");
    const theirs = await foreignJob();
    await served.close();
    await serve(env.dir("server"));
    expect((await call(served.url, "POST", "/train", check(own), TOKEN)).status).toBe(200);
    const forged = { ...own, remoteStatusInput: { jobId: theirs, check: 0 } };
    expect((await call(served.url, "POST", "/cancelTraining", cancel(forged), TOKEN)).status).toBe(
      404,
    );
    expect(plugin.trainingCalls().map((c) => c.hook)).toEqual(["trainStatus"]);
    // Without a dataDir, a restarted server knows nothing (and refuses).
    await served.close();
    await serve();
    expect((await call(served.url, "POST", "/train", check(own), TOKEN)).status).toBe(404);
  });

  it("drops an ended training's record after servedTasks.endedRetentionMs; a running one's stays", async () => {
    await served.close();
    let ms = Date.UTC(2026, 0, 1);
    const dataDir = env.dir("pruning");
    plugin = new RecordingJobTagger();
    app = createPluginApp(plugin, {
      store: env.store,
      instances: { ext: { config: { jobsDir } } },
      token: TOKEN,
      dataDir,
      servedTasks: { endedRetentionMs: 60_000 },
      now: () => new Date(ms),
      logger: silentLogger,
    });
    served = await servePlugin(app, { port: 0 });
    const running = await start("still-running");
    const quick = { ...input(), data: { ...input().data, trainingParams: { checksNeeded: 1 } } };
    const body = { ...quick, status: { taskId: "quick", state: "waiting" } };
    const started = await call(served.url, "POST", "/train", body, TOKEN);
    const ended = await call(
      served.url,
      "POST",
      "/train",
      { ...quick, isStatusCheck: true, status: started.json.status },
      TOKEN,
    );
    expect(ended.json.status.state, ended.text).toBe("succeeded");
    const files = async () =>
      (await readdir(join(dataDir, "served-tasks"))).filter((n) => n.endsWith(".json")).sort();
    expect(await files()).toEqual(["quick.json", "still-running.json"]);
    // A retention later (the running one checked meanwhile): the ended record is gone.
    ms += 60_000;
    const checked = await call(served.url, "POST", "/train", check(running), TOKEN);
    expect(checked.status, checked.text).toBe(200);
    await issuedTasksOf(app)?.idle();
    expect(await files()).toEqual(["still-running.json"]);
    const late = { ...quick, isStatusCheck: true, status: started.json.status };
    expect((await call(served.url, "POST", "/train", late, TOKEN)).status).toBe(404);
  });

  it("the engine's HTTP client (sending back each status) trains and cancels through it", async () => {
    const engine = await createLocalEngine({
      store: env.store,
      dataDir: env.dir("engine"),
      pollPolicy: { initialDelayMs: 5, minDelayMs: 5 },
      logger: silentLogger,
    });
    try {
      engine.registerPlugin("jobs", createHttpPluginClient(served.url, { token: TOKEN }));
      engine.registerPlugin("jobs-no-token", createHttpPluginClient(served.url));
      await engine.createInstance({ id: "ext", plugin: "jobs", config: { jobsDir } });
      const task = await engine.train("ext", {
        trainingParams: { keywords: ["ham"], checksNeeded: 3 },
      });
      expect(task.state, task.error?.message).toBe("succeeded");
      expect(task.statusChecks).toBe(3);
      expect(plugin.trainingCalls().filter((c) => c.hook === "trainStatus")).toHaveLength(3);

      const run = await engine.startTraining("ext", {
        trainingParams: { keywords: ["never"], checksNeeded: 1_000_000 },
      });
      for await (const event of engine.watch(run.taskId)) if (event.type === "status") break;
      const cancelled = await engine.cancel(run.taskId);
      expect(cancelled.state).toBe("cancelled");
      await run.done;
      const jobId = cancelled.remoteStatus?.remoteStatusInput?.jobId as string;
      expect((await fakeJobs.read(jobsDir, jobId)).state).toBe("cancelled");
      // The succeeded training is kept as ended (a client that lost its last answer may
      // repeat the check); the cancelled one is gone.
      const left = (await issuedTasksOf(app)?.list()) ?? [];
      expect(left.map((t) => [t.taskId, t.endedAt !== undefined])).toEqual([[task.taskId, true]]);

      // Without the token: refused (an UnauthorizedError naming the header) when the engine
      // registers the instance on the server; nothing registered, nothing trained.
      const anon = engine.createInstance({
        id: "anon",
        plugin: "jobs-no-token",
        config: { jobsDir },
      });
      await expect(anon).rejects.toSatisfy((e) => UnauthorizedError.isInstance(e));
      await expect(anon).rejects.toThrow(/Unauthorized/);
      expect(engine.getInstance("anon")).toBeUndefined();
      await expect(env.store.resolve({ pluginInstanceId: "anon" })).rejects.toSatisfy((e) =>
        NotFoundError.isInstance(e),
      );
    } finally {
      await engine.close();
    }
  });

  it("answers a status check without a task id or with a bad one as a 400", async () => {
    const missing = await call(
      served.url,
      "POST",
      "/train",
      { ...input(), isStatusCheck: true },
      TOKEN,
    );
    expect(missing.status).toBe(400);
    const bad = await call(
      served.url,
      "POST",
      "/cancelTraining",
      cancel({ taskId: "../../etc", state: "running" }),
      TOKEN,
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("status.taskId");
  });
});
