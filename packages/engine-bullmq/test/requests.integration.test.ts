import { join } from "node:path";
import { ValidationError } from "@trainable/core";
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
});
