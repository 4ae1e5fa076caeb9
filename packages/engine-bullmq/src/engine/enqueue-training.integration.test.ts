import { type Id, validateId } from "@trainable/core";
import type { TaskEvent } from "@trainable/plugin-runtime";
import { parseInstanceSpec, toPluginClient } from "@trainable/plugin-runtime/engine";
import { afterEach, describe, expect, it } from "vitest";
import { CountingTagger } from "../../test/__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "../../test/helpers.js";
import { TRAIN_JOB } from "../training-job-data.js";
import { closeEngineContext, createEngineContext } from "./engine-context.js";
import { createInstance } from "./engine-instances.js";
import { enqueueTraining } from "./enqueue-training.js";
import { relayEvents } from "./relay-events.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

/** An engine context (no worker: jobs stay queued) with a "tagger" instance. */
async function setup() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const store = await dirs.store();
  const context = await createEngineContext({ ...testQueue(), store });
  closers.push(() => closeEngineContext(context));
  context.plugins.set("counting", toPluginClient(new CountingTagger(), { store }));
  await createInstance(
    context,
    parseInstanceSpec({ id: "tagger", plugin: "counting", config: { countDir: dirs.countDir } }),
  );
  const relay = relayEvents(context);
  const events: TaskEvent[] = [];
  context.emitter.on("task", (event: TaskEvent) => events.push(event));
  return { context, relay, events };
}

const TAGGER: Id = validateId("tagger", "id");
const input = { trainingParams: { keywords: ["alpha"] } };

describe("enqueueTraining", () => {
  it("queues the task as a job whose id is the task id, waiting, and emits created once", async () => {
    const { context, relay, events } = await setup();
    const task = await enqueueTraining(context, {
      instanceId: TAGGER,
      input,
      options: { taskId: "t-one", handle: "v1" },
      relay,
    });
    expect(task).toMatchObject({
      taskId: "t-one",
      instanceId: TAGGER,
      state: "waiting",
      save: { handle: "v1", setAsDefault: true },
    });
    const job = await context.queue.getJob("t-one");
    expect(job?.name).toBe(TRAIN_JOB);
    expect(job?.opts.attempts).toBe(1);
    expect(job?.data).toMatchObject({
      schemaVersion: 1,
      task: { taskId: "t-one", state: "waiting" },
      instance: { id: "tagger", plugin: "counting" },
    });
    expect(await job?.getState()).toBe("waiting");
    // `created` comes from here, not again from the relay's `added`.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const created = events.filter((e) => e.type === "created" && e.taskId === "t-one");
    expect(created).toHaveLength(1);
    expect(created[0]?.task.state).toBe("waiting");
  });

  it("generates a task id and a create-only handle when none is given", async () => {
    const { context, relay } = await setup();
    const task = await enqueueTraining(context, {
      instanceId: TAGGER,
      input,
      options: {},
      relay,
    });
    expect(task.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(task.save.createOnly).toBe(true);
    expect(await context.queue.getJob(task.taskId)).toBeDefined();
  });

  it("answers the recorded task for a repeat of the same request, queueing nothing new", async () => {
    const { context, relay, events } = await setup();
    const request = { instanceId: TAGGER, input, options: { taskId: "t-rep", handle: "v1" } };
    const first = await enqueueTraining(context, { ...request, relay });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await enqueueTraining(context, {
      ...request,
      // Key order does not make another request.
      input: { trainingParams: { keywords: ["alpha"] } },
      relay,
    });
    expect(again).toEqual(first);
    expect(await context.queue.getJobCounts("waiting")).toEqual({ waiting: 1 });
    expect(events.filter((e) => e.type === "created")).toHaveLength(1);
  });

  it("rejects the same task id asking something else with a CONFLICT naming the difference", async () => {
    const { context, relay } = await setup();
    await enqueueTraining(context, {
      instanceId: TAGGER,
      input,
      options: { taskId: "t-conf", handle: "v1" },
      relay,
    });
    await expect(
      enqueueTraining(context, {
        instanceId: TAGGER,
        input: { trainingParams: { keywords: ["beta"] } },
        options: { taskId: "t-conf", handle: "v1" },
        relay,
      }),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("input") });
    await expect(
      enqueueTraining(context, {
        instanceId: TAGGER,
        input,
        options: { taskId: "t-conf", handle: "v2" },
        relay,
      }),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("handle") });
    // The first request stands.
    const job = await context.queue.getJob("t-conf");
    expect(job?.data.task.save.handle).toBe("v1");
  });

  it("rejects an unknown instance (NOT_FOUND) and a bad timeoutMs (VALIDATION) before queueing", async () => {
    const { context, relay } = await setup();
    await expect(
      enqueueTraining(context, { instanceId: validateId("nope", "id"), input, options: {}, relay }),
    ).rejects.toMatchObject({ code: "NOT_FOUND", message: expect.stringContaining('"nope"') });
    await expect(
      enqueueTraining(context, {
        instanceId: TAGGER,
        input,
        options: { taskId: "t-bad", timeoutMs: -1 },
        relay,
      }),
    ).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "timeoutMs" }] });
    expect(await context.queue.getJob("t-bad")).toBeUndefined();
    expect(await context.queue.count()).toBe(0);
  });
});
