import { createLocalEngine } from "../src/index.js";
import { createTestEnv, silentLogger } from "./__fixtures__/env.js";
import { KeywordTagger } from "./__fixtures__/plugins.mjs";
import { describeEngineConformance } from "./engine-conformance.js";

describeEngineConformance("local engine", async () => {
  const env = await createTestEnv();
  const engine = await createLocalEngine({
    store: env.store,
    dataDir: env.dir("engine"),
    logger: silentLogger,
  });
  engine.registerPlugin("keyword", new KeywordTagger());
  const config = { tagKind: "keyword" };
  await engine.createInstance({ id: "conf", plugin: "keyword", config });
  return {
    engine,
    store: env.store,
    instanceId: "conf",
    plugin: "keyword",
    config,
    otherConfig: { tagKind: "other" },
    async close() {
      await engine.close();
      await env.cleanup();
    },
  };
});
