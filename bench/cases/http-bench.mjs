// HTTP benchmark (issue 8), called by bench/run.mjs: requests/s and p50 latency of `POST /run`
// served by plugin-runtime's `servePlugin` (a trainable tagger whose model is in the cache)
// next to a bare Hono app on @hono/node-server doing the same JSON round trip — and the same
// plugin served with `checkOutput: true` (every answer checked against its output schema).
//
// The servers run in this process; the load generator runs in a separate process (this same
// file: `node http-bench.mjs loadgen <json args>`), so each has its own event loop. Keep-alive
// connections, a fixed number of them per server, each sending its next request as soon as
// the previous answer is read. After a 1 s warm-up of each, the servers are measured in
// short alternating slices (bare, plugin, checked, bare, … 0.5 s each, ~5 s per server), so machine
// noise hits both alike; a server's result pools its slices.
//
// Server CPU: at each slice's start and end the load generator asks this process (over the
// IPC channel, with nothing else in flight) for `process.cpuUsage()`; the difference is the
// CPU the server process spent on that slice's requests (all its threads: GC, libuv), reported
// as µs per request. On a shared machine that is steadier than requests/s, which also moves
// with whatever else runs on the cores.
//
// Env: BENCH_HTTP_SECONDS (measured seconds per server, default 5), BENCH_HTTP_CONNECTIONS
// (default 32). `BENCH_ONLY=http node bench/run.mjs` runs this benchmark alone (a few rounds,
// medians printed, nothing written).
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { createModelCache } from "@trainable/cache";
import { TrainableModel } from "@trainable/core";
import { servePlugin, TrainableTaggerPluginService } from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { Hono } from "hono";
import { z } from "zod";

const self = fileURLToPath(import.meta.url);
const KEYWORDS = ["spam", "cheap"];
const SLICE_SECONDS = 0.5;

class KeywordModel extends TrainableModel {
  keywords = [];
  async saveToFolder(dir) {
    await writeFile(join(dir, "model.json"), JSON.stringify(this.keywords));
  }
  async loadFromFolder(dir) {
    this.keywords = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
  }
  async train() {
    this.keywords = [...KEYWORDS];
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

class KeywordTagger extends TrainableTaggerPluginService {
  configSchema = z.object({}).default({});
  modelClass = KeywordModel;
  async runWithModel(req, model) {
    return tag(req.data.file, model.keywords);
  }
}

const BODY = JSON.stringify({
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

/** Runs the load generator in a child process (async: the servers live in this process). */
function loadgen(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [self, "loadgen", JSON.stringify(args)], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    });
    // The load generator's slice marks: answered with this process's CPU time so far.
    proc.on("message", (m) => {
      if (m?.type === "cpu") {
        const { user, system } = process.cpuUsage();
        proc.send({ type: "cpu", id: m.id, us: user + system });
      }
    });
    let out = "";
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk) => {
      out += chunk;
    });
    proc.once("error", reject);
    proc.once("close", (code) => {
      if (code !== 0) reject(new Error(`http load generator exited ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)));
    });
  });
}

function pool(slices) {
  const requests = slices.reduce((s, r) => s + r.requests, 0);
  const seconds = slices.reduce((s, r) => s + r.seconds, 0);
  const cpuUs = slices.reduce((s, r) => s + r.serverCpuUs, 0);
  const loadgenCpuUs = slices.reduce((s, r) => s + r.loadgenCpuUs, 0);
  const latencies = slices.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    rps: requests / seconds,
    p50ms: at(0.5),
    p99ms: at(0.99),
    /** CPU µs the server process spent per request (user + system, all threads). */
    cpuUsPerRequest: cpuUs / requests,
    /** CPU µs the load generator spent per request (it shares the cores). */
    loadgenCpuUsPerRequest: loadgenCpuUs / requests,
    requests,
    errors: slices.reduce((s, r) => s + r.errors, 0),
    seconds,
    slicesRps: {
      min: Math.min(...slices.map((r) => r.requests / r.seconds)),
      max: Math.max(...slices.map((r) => r.requests / r.seconds)),
    },
  };
}

/** @param {{ log?: (m: string) => void }} options */
export async function runHttpBench({ log = () => {} } = {}) {
  const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 5);
  const connections = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 32);
  const root = await mkdtemp(join(tmpdir(), "trainable-http-bench-"));
  let plugin;
  let checked;
  let bareServer;
  let store;
  try {
    store = await createCheckpointStore({
      url: `file://${join(root, "store")}`,
      workspace: "bench",
    });
    const model = new KeywordModel();
    await model.train();
    await model.saveRemote({ store, pluginInstanceId: "bench" });
    const cache = createModelCache({ store, diskDir: join(root, "cache") });
    plugin = await servePlugin(new KeywordTagger(), {
      port: 0,
      store,
      cache,
      instances: { bench: { config: {} } },
    });
    checked = await servePlugin(new KeywordTagger(), {
      port: 0,
      store,
      cache,
      instances: { bench: { config: {} } },
      checkOutput: true,
    });

    const bare = new Hono();
    bare.post("/run", async (c) => {
      const req = await c.req.json();
      return c.json({ data: tag(req.data.file, KEYWORDS), status: { state: "succeeded" } });
    });
    bareServer = await new Promise((resolve, reject) => {
      const server = serve({ fetch: bare.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
        resolve({ server, url: `http://127.0.0.1:${info.port}` }),
      );
      server.once("error", reject);
    });

    // Same answer from both, or the comparison means nothing.
    const probe = async (url) => {
      const response = await fetch(`${url}/run`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: BODY,
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`POST ${url}/run answered ${response.status}: ${text}`);
      return JSON.parse(text);
    };
    const fromBare = await probe(bareServer.url);
    for (const server of [plugin, checked]) {
      const fromPlugin = await probe(server.url);
      if (JSON.stringify(fromBare.data) !== JSON.stringify(fromPlugin.data)) {
        throw new Error(
          `the servers answer differently: ${JSON.stringify(fromBare)} vs ${JSON.stringify(fromPlugin)}`,
        );
      }
    }

    // Short alternating slices (bare, plugin, bare, …), over the same kept-alive connections.
    const slices = Math.max(1, Math.round(seconds / SLICE_SECONDS));
    const r = await loadgen({
      targets: [
        { name: "bare", url: `${bareServer.url}/run` },
        { name: "plugin", url: `${plugin.url}/run` },
        { name: "checked", url: `${checked.url}/run` },
      ],
      slices,
      sliceSeconds: seconds / slices,
      warmupSeconds: 1,
      connections,
    });
    const out = {
      bare: pool(r.bare),
      plugin: pool(r.plugin),
      pluginCheckOutput: pool(r.checked),
      connections,
    };
    for (const name of ["bare", "plugin", "pluginCheckOutput"]) {
      if (out[name].errors > 0)
        throw new Error(`http: ${out[name].errors} failed requests to the ${name} server`);
    }
    log(
      `http: bare ${out.bare.rps.toFixed(0)} req/s (p50 ${out.bare.p50ms.toFixed(2)} ms, ${out.bare.cpuUsPerRequest.toFixed(1)} µs CPU/request), plugin ${out.plugin.rps.toFixed(0)} req/s (p50 ${out.plugin.p50ms.toFixed(2)} ms, ${out.plugin.cpuUsPerRequest.toFixed(1)} µs CPU/request): ${(out.plugin.rps / out.bare.rps).toFixed(2)}× the requests/s, ${(out.bare.cpuUsPerRequest / out.plugin.cpuUsPerRequest).toFixed(2)}× the CPU efficiency`,
    );
    log(
      `http: plugin with checkOutput ${out.pluginCheckOutput.rps.toFixed(0)} req/s (${out.pluginCheckOutput.cpuUsPerRequest.toFixed(1)} µs CPU/request): ${(out.pluginCheckOutput.rps / out.bare.rps).toFixed(2)}× the requests/s of bare`,
    );
    return out;
  } finally {
    await plugin?.close().catch(() => {});
    await checked?.close().catch(() => {});
    if (bareServer) {
      bareServer.server.closeAllConnections?.();
      await new Promise((resolve) => bareServer.server.close(() => resolve()));
    }
    await store?.close();
    await rm(root, { recursive: true, force: true });
  }
}

// ---- load generator (child process) -----------------------------------------------------------
let markId = 0;
/** The server process's CPU time so far (µs), asked over IPC (0 when run without it). */
function serverCpu() {
  if (typeof process.send !== "function") return Promise.resolve(0);
  const id = ++markId;
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m?.type !== "cpu" || m.id !== id) return;
      process.off("message", onMessage);
      resolve(m.us);
    };
    process.on("message", onMessage);
    process.send({ type: "cpu", id });
  });
}

const ownCpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

async function runLoad({ targets, slices, sliceSeconds, warmupSeconds, connections }) {
  const body = Buffer.from(BODY);
  const clients = targets.map(({ name, url }) => {
    const target = new URL(url);
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    const once = () =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: "POST",
            headers: { "content-type": "application/json", "content-length": body.length },
          },
          (res) => {
            res.on("data", () => {});
            res.once("end", () => resolve(res.statusCode));
            res.once("error", reject);
          },
        );
        req.once("error", reject);
        req.end(body);
      });
    return { name, agent, once };
  });
  /** `connections` workers, each sending its next request when the previous answer is read. */
  const phase = async (once, durationS, record) => {
    let requests = 0;
    let errors = 0;
    const latenciesMs = [];
    let deadline = 0;
    const worker = async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await once();
        if (status >= 200 && status < 300) {
          requests++;
          if (record) latenciesMs.push(Math.round((performance.now() - t0) * 1000) / 1000);
        } else errors++;
      }
    };
    const cpuBefore = await serverCpu();
    const ownBefore = ownCpu();
    const started = performance.now();
    deadline = started + durationS * 1000;
    await Promise.all(Array.from({ length: connections }, worker));
    const seconds = (performance.now() - started) / 1000;
    const loadgenCpuUs = ownCpu() - ownBefore;
    const serverCpuUs = (await serverCpu()) - cpuBefore;
    return { requests, errors, seconds, latenciesMs, serverCpuUs, loadgenCpuUs };
  };
  for (const client of clients) await phase(client.once, warmupSeconds, false);
  const out = Object.fromEntries(clients.map((c) => [c.name, []]));
  for (let i = 0; i < slices; i++) {
    for (const client of clients)
      out[client.name].push(await phase(client.once, sliceSeconds, true));
  }
  for (const client of clients) client.agent.destroy();
  return out;
}

if (process.argv[1] === self && process.argv[2] === "loadgen") {
  console.log(JSON.stringify(await runLoad(JSON.parse(process.argv[3]))));
  process.disconnect?.();
}
