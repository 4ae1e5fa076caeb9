// Requests per second of `POST /run` served by createPluginApp with a cached model, next to a
// bare Hono app doing the same JSON round trip, measured in the same run with the same client.
//
//   npx tsup && node bench/run-bench.mjs [--seconds 3] [--rounds 3] [--connections 32] [--json]
//
// The two servers are measured in alternating rounds (bare, runtime, bare, …) and each
// reports its median round, so machine noise hits both alike.
//
// Needs the built dist of @trainable/plugin-runtime, core, storage and cache.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { createModelCache } from "@trainable/cache";
import { TrainableModel } from "@trainable/core";
import { servePlugin, TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { Hono } from "hono";
import { z } from "zod";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);

class BenchModel extends TrainableModel {
  keywords = [];
  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify(this.keywords));
  }
  async loadFromFolder(dir) {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  }
  async train() {
    return { status: { state: "succeeded" } };
  }
}

const tag = (file, keywords) => ({
  file: {
    ...file,
    blocks: file.blocks.map((block) => ({
      ...block,
      tags: keywords.filter((k) => block.text.includes(k)).map((k) => ({ kind: "kw", name: k })),
    })),
  },
});

class BenchTagger extends TrainableTaggerPluginService {
  configSchema = z.object({}).default({});
  modelClass = BenchModel;
  async runWithModel(request, model) {
    return tag(request.data.file, model.keywords);
  }
}

const body = JSON.stringify({
  data: {
    file: {
      blocks: [
        { id: "b1", text: "buy cheap spam now" },
        { id: "b2", text: "hello" },
      ],
    },
  },
  context: { pluginInstanceId: "bench" },
});

async function measure(url) {
  let count = 0;
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await response.arrayBuffer();
      if (response.ok) count++;
      else errors++;
    }
  };
  // Warm up (loads the model into the cache), then measure.
  await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return { requests: count, errors, seconds: elapsed, rps: count / elapsed };
}

const root = await mkdtemp(join(tmpdir(), "trainable-bench-"));
try {
  const store = await createCheckpointStore({
    url: `file://${join(root, "store")}`,
    workspace: "bench",
  });
  const model = new BenchModel();
  model.keywords = ["spam", "cheap"];
  await model.saveRemote({ store, pluginInstanceId: "bench" });
  const cache = createModelCache({ store, diskDir: join(root, "cache") });
  const plugin = await servePlugin(new BenchTagger(), {
    port: 0,
    store,
    cache,
    instances: { bench: { config: {} } },
  });

  const bare = new Hono();
  bare.post("/run", async (c) => {
    const request = await c.req.json();
    return c.json({
      data: tag(request.data.file, ["spam", "cheap"]),
      status: { state: "succeeded" },
    });
  });
  const bareServer = await new Promise((resolve) => {
    const server = serve({ fetch: bare.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve({ server, port: info.port }),
    );
  });

  const bareRounds = [];
  const pluginRounds = [];
  for (let round = 0; round < rounds; round++) {
    bareRounds.push(await measure(`http://127.0.0.1:${bareServer.port}/run`));
    pluginRounds.push(await measure(`${plugin.url}/run`));
  }
  const median = (list) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)];
  const results = {
    node: process.version,
    seconds,
    rounds,
    connections,
    bareHono: median(bareRounds),
    pluginRuntime: median(pluginRounds),
  };
  results.ratio = results.pluginRuntime.rps / results.bareHono.rps;
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(
      `POST /run, ${connections} connections, median of ${rounds} alternating ${seconds}s rounds (${process.version})`,
    );
    console.log(`  bare Hono app            ${results.bareHono.rps.toFixed(0).padStart(8)} req/s`);
    console.log(
      `  plugin-runtime (cached)  ${results.pluginRuntime.rps.toFixed(0).padStart(8)} req/s`,
    );
    console.log(`  ratio                    ${(results.ratio * 100).toFixed(1).padStart(7)} %`);
  }
  await plugin.close();
  bareServer.server.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
