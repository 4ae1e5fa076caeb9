import { join } from "node:path";
import { ConflictError, ValidationError } from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { CountingTagger, readCounts } from "./__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

async function setup() {
  const dirs = await testDirs();
  closers.push(dirs.cleanup);
  const queue = testQueue();
  const engine = await createBullmqEngine({ ...queue, store: await dirs.store() });
  closers.push(() => engine.close());
  engine.registerPlugin("counting", new CountingTagger());
  await engine.createInstance({
    id: "tagger",
    plugin: "counting",
    config: { countDir: dirs.countDir },
  });
  const worker = await createBullmqWorker({
    ...queue,
    store: await dirs.store(),
    plugins: { counting: new CountingTagger() },
    dataDir: dirs.workerDir(1),
  });
  closers.push(() => worker.close());
  return { dirs, queue, engine, worker };
}

describe("requests a worker or an engine must not get wrong", () => {
  it("a replaced instance trains with its new config on a worker that trained the old one", async () => {
    const { dirs, engine } = await setup();
    const first = await engine.train("tagger", { trainingParams: { keywords: ["old"] } });
    expect(first.state).toBe("succeeded");
    const otherCountDir = join(dirs.root, "counts-2");
    await engine.createInstance({
      id: "tagger",
      plugin: "counting",
      config: { countDir: otherCountDir },
      replace: true,
    });
    const second = await engine.train("tagger", { trainingParams: { keywords: ["new"] } });
    expect(second.state).toBe("succeeded");
    // The plugin counted the second training where the new config says.
    expect((await readCounts(otherCountDir, "start")).get(second.taskId)).toBe(1);
    expect((await readCounts(dirs.countDir, "start")).get(second.taskId)).toBeUndefined();
  });

  it("a corrupt job in the queue is skipped by listTasks (with a warning naming it); getTask of it is a ValidationError", async () => {
    const dirs = await testDirs();
    closers.push(dirs.cleanup);
    const warnings: string[] = [];
    const engine = await createBullmqEngine({
      ...testQueue(),
      store: await dirs.store(),
      logger: { warn: (message) => warnings.push(message), error: () => {} },
    });
    closers.push(() => engine.close());
    engine.registerPlugin("counting", new CountingTagger());
    await engine.createInstance({
      id: "t",
      plugin: "counting",
      config: { countDir: dirs.countDir },
    });
    const run = await engine.startTraining("t", { trainingParams: { keywords: ["ok"] } });
    // Written by something else (another program, a bug, a hand-made job).
    await engine.queue.add("train", { schemaVersion: 1, task: { hello: "x" } } as never, {
      jobId: "corrupt-1",
    });
    const tasks = await engine.listTasks();
    expect(tasks.map((t) => t.taskId)).toEqual([run.taskId]);
    expect(warnings.some((w) => w.includes('"corrupt-1"'))).toBe(true);
    const error = await engine.getTask("corrupt-1").catch((e: unknown) => e);
    expect(ValidationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/training job "corrupt-1"/);
    expect(await engine.getTask(run.taskId)).toMatchObject({ state: "waiting" });
  });

  it("a task id asked again with another request is a ConflictError naming it; the same request gets the same task", async () => {
    const dirs = await testDirs();
    closers.push(dirs.cleanup);
    const engine = await createBullmqEngine({ ...testQueue(), store: await dirs.store() });
    closers.push(() => engine.close());
    engine.registerPlugin("counting", new CountingTagger());
    for (const id of ["t", "t2"]) {
      await engine.createInstance({ id, plugin: "counting", config: { countDir: dirs.countDir } });
    }
    const input = { trainingEpochs: 2, trainingParams: { keywords: ["a"], epochMs: 5 } };
    const first = await engine.startTraining("t", input, { taskId: "same-1" });
    // The same request (keys in another order, defaults spelled out): the same task.
    const again = await engine.startTraining(
      "t",
      { trainingParams: { epochMs: 5, keywords: ["a"] }, trainingEpochs: 2, pluginInstance: "t" },
      { taskId: "same-1", setAsDefault: true },
    );
    expect(again.task).toEqual(first.task);
    const explicit = await engine.startTraining("t", input, { taskId: "same-2", handle: "v1" });
    expect(
      (await engine.startTraining("t", input, { taskId: "same-2", handle: "v1" })).task,
    ).toEqual(explicit.task);
    const others: Array<[string, () => Promise<unknown>]> = [
      [
        "input",
        () => engine.startTraining("t", { ...input, trainingEpochs: 3 }, { taskId: "same-1" }),
      ],
      ["instance", () => engine.startTraining("t2", input, { taskId: "same-1" })],
      ["handle", () => engine.startTraining("t", input, { taskId: "same-1", handle: "v2" })],
      ["handle", () => engine.startTraining("t", input, { taskId: "same-2" })],
      ["handle", () => engine.startTraining("t", input, { taskId: "same-2", handle: "v3" })],
      [
        "setAsDefault",
        () => engine.startTraining("t", input, { taskId: "same-1", setAsDefault: false }),
      ],
    ];
    for (const [field, ask] of others) {
      const error = await ask().catch((e: unknown) => e);
      expect(ConflictError.isInstance(error), field).toBe(true);
      expect((error as Error).message).toMatch(/"same-[12]"/);
      expect((error as Error).message).toContain(field);
    }
    expect((await engine.listTasks()).map((t) => t.taskId).sort()).toEqual(["same-1", "same-2"]);
    expect(await engine.getTask("same-1")).toEqual(first.task);
  });
});
