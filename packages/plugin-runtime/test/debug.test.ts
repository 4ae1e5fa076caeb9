import { it, expect } from "vitest";
import { createHttpPluginClient, createLocalEngine, servePlugin } from "../src/index.js";
import { createTestEnv, silentLogger } from "./__fixtures__/env.js";
import { KeywordTagger } from "./__fixtures__/plugins.mjs";

it("debug", async () => {
  const env = await createTestEnv();
  const served = await servePlugin(new KeywordTagger(), { port: 0, store: env.store, allowInstanceRegistration: true, logger: silentLogger });
  const engine = await createLocalEngine({ store: env.store, dataDir: env.dir("e"), logger: { warn: (m, e) => console.log(Date.now(), m, e), error: (m, e) => console.log(m, e) } });
  engine.registerPlugin("k", createHttpPluginClient(served.url));
  await engine.createInstance({ id: "kw", plugin: "k", config: {} });
  engine.on("task", (e) => console.log(Date.now(), e.type, e.task.state));
  const t0 = Date.now();
  const task = await engine.train("kw", { trainingEpochs: 1, trainingParams: { epochMs: 60_000 } }, { timeoutMs: 300 });
  console.log("took", Date.now() - t0, task.state, task.error);
  await engine.close();
  const t1 = Date.now();
  await served.close();
  console.log("close took", Date.now() - t1);
});
