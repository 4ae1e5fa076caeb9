import { describeEngineConformance } from "../../plugin-runtime/test/engine-conformance.js";
import { createBullmqEngine, createBullmqWorker } from "../src/index.js";
import { CountingTagger } from "./__fixtures__/plugins.mjs";
import { testDirs, testQueue } from "./helpers.js";

describeEngineConformance("BullMQ engine (one in-process worker)", async () => {
  const dirs = await testDirs();
  const queue = testQueue();
  const store = await dirs.store();
  const engine = await createBullmqEngine({ ...queue, store });
  engine.registerPlugin("counting", new CountingTagger());
  const config = { countDir: dirs.countDir };
  await engine.createInstance({ id: "conf", plugin: "counting", config });
  const worker = await createBullmqWorker({
    ...queue,
    store: await dirs.store(),
    plugins: { counting: new CountingTagger() },
    dataDir: dirs.workerDir(1),
    logger: { warn: () => {}, error: () => {} },
  });
  return {
    engine,
    store,
    instanceId: "conf",
    plugin: "counting",
    config,
    otherConfig: { countDir: `${dirs.countDir}-other` },
    async close() {
      await worker.close();
      await engine.close();
      await dirs.cleanup();
    },
  };
});
