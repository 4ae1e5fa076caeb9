import { join } from "node:path";
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
});
