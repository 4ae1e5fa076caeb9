/**
 * Serving: `/run` answering from the cache while the store is unreachable, and a
 * token-protected plugin server refusing every request without the right token.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache, type ModelCacheImpl } from "@trainable/cache";
import { RemoteError } from "@trainable/core";
import { createPluginApp, type ServedPlugin, servePlugin } from "@trainable/plugin-runtime";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import { createS3Backend } from "@trainable/storage/s3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { closeAgent, type SentRequest, send } from "./hostile/http-client.js";
import { snapshotTree } from "./hostile/snapshot.js";
import HostileTagger, { WordModel } from "./hostile/tagger-plugin.mjs";
import { recordCase, trials } from "./report.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "trainable-rel-serving-"));
});
afterAll(async () => {
  closeAgent();
  await rm(root, { recursive: true, force: true });
});

/** A TCP proxy to the S3 server that can be cut: then every connection attempt is refused. */
async function startCuttableProxy(target: URL): Promise<{ url: string; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

const runBody = (instance: string) =>
  JSON.stringify({
    data: { file: { blocks: [{ id: "b1", text: "cheap spam now" }] } },
    context: { pluginInstanceId: instance },
  });

describe("remote-faults.store-unreachable-run", () => {
  it("/run keeps answering from the cache with the store cut after warm-up", async () => {
    const requests = trials(25, 500);
    const s3 = getS3TestConfig();
    const proxy = await startCuttableProxy(new URL(s3.endpoint));
    const backend = await createS3Backend({
      bucket: s3.bucket,
      prefix: `${s3.prefix}rel-unreachable-${process.pid}-${Date.now().toString(36)}/`,
      endpoint: proxy.url,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      maxAttempts: 1,
    });
    const store: CheckpointStoreImpl = await createCheckpointStore({
      backend,
      workspace: "ws",
      fingerprintCache: false,
    });
    const model = new WordModel();
    model.words = ["spam"];
    await model.saveRemote({ store, pluginInstanceId: "served" });
    const warnings: string[] = [];
    const cache: ModelCacheImpl = createModelCache({
      store,
      diskDir: false,
      // Every call past 20 ms asks the store and waits for it (no stale-while-revalidate):
      // the store's failure, not a background refresh, is what the answers have to survive.
      revalidateMs: 20,
      staleWhileRevalidateMs: 0,
      logger: { warn: (message: string) => void warnings.push(message) },
    });
    let served: ServedPlugin | undefined;
    const problems: string[] = [];
    try {
      served = await servePlugin(
        createPluginApp(new HostileTagger(), {
          store,
          cache,
          instances: { served: { config: {} }, never: { config: {} } },
          logger: { error: () => {} },
        }),
        { port: 0 },
      );
      const url = served.url;
      const run = (instance: string) =>
        send(url, { method: "POST", path: "/run", body: runBody(instance) });
      const warm = await run("served");
      const tags = JSON.stringify(JSON.parse(warm.text).data);
      if (warm.status !== 200 || !tags.includes('"name":"spam"')) problems.push("warm-up failed");

      await proxy.cut();
      const direct = await store.resolve({ pluginInstanceId: "served" }).then(
        () => "answered",
        (error: unknown) =>
          RemoteError.isInstance(error) && error.retryable ? "unreachable" : String(error),
      );
      if (direct !== "unreachable") problems.push(`the cut store ${direct}`);

      const before = cache.stats();
      let answered = 0;
      for (let i = 0; i < requests; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25)); // past revalidateMs each time
        const answer = await run("served");
        if (answer.status === 200 && JSON.stringify(JSON.parse(answer.text).data) === tags) {
          answered++;
        } else {
          problems.push(`request ${i}: ${answer.status} ${answer.text.slice(0, 200)}`);
        }
      }
      const after = cache.stats();
      const stale = after.staleServed - before.staleServed;
      const errors = after.revalidationErrors - before.revalidationErrors;
      const warned = warnings.filter((w) => w.includes("served")).length;
      if (stale < 1) problems.push("nothing counted as served stale");
      if (warned !== 1) problems.push(`${warned} warnings`);
      const never = await run("never");
      if (never.status < 500 || !/REMOTE/.test(never.text)) {
        problems.push(`a model never loaded answered ${never.status} ${never.text.slice(0, 200)}`);
      }
      recordCase({
        id: "remote-faults.store-unreachable-run",
        backend: "s3",
        method: `a plugin server (createPluginApp, model cache revalidateMs 20 ms, staleWhileRevalidateMs 0) loads its model from S3 through a TCP proxy; after one warm-up /run the proxy is cut (connections refused) and ${requests} /run requests follow, 25 ms apart`,
        trials: requests,
        outcome:
          `${answered} of ${requests} answered 200 with the warm-up's tags; the cache counted ${stale} answers served stale after ${errors} failed revalidations and warned ${warned} time(s); a model never loaded: ${never.status} (${JSON.parse(never.text).error?.code})` +
          (problems.length ? `; FAILED: ${problems.slice(0, 5).join("; ")}` : ""),
        passed: problems.length === 0,
      });
    } finally {
      await served?.close();
      await store.close();
    }
    expect(problems).toEqual([]);
  }, 600_000);
});

const TOKEN = "rel-token-0123456789abcdef";
const OTHER = "rel-other-0123456789abcdef";
const SEED = 20_261_130;

describe("hostile-requests.unauthenticated", () => {
  it("every route refuses a missing or wrong token with 401 and changes nothing", async () => {
    const count = trials(400, 4000);
    const dir = await mkdtemp(join(root, "auth-"));
    const storeDir = join(dir, "store");
    const dataDir = join(dir, "server");
    const store = await createCheckpointStore({
      url: pathToFileURL(storeDir).href,
      workspace: "ws",
      fingerprintCache: false,
    });
    const model = new WordModel();
    model.words = ["spam"];
    await model.saveRemote({ store, pluginInstanceId: "t" });
    const served = await servePlugin(
      createPluginApp(new HostileTagger(), {
        store,
        token: TOKEN,
        allowInstanceRegistration: true,
        dataDir,
        logger: { error: () => {} },
      }),
      { port: 0 },
    );
    const url = served.url;
    const good = { authorization: `Bearer ${TOKEN}` };
    const problems: string[] = [];
    try {
      // A training of this server's, running while the requests come: theirs to try to
      // cancel, check or watch.
      const trainBody = (taskId: string, extra: Record<string, unknown> = {}) =>
        JSON.stringify({
          data: {
            pluginInstance: "t",
            trainingParams: { words: ["x"], steps: 100_000, stepMs: 50 },
          },
          context: { pluginInstanceId: "t" },
          status: { taskId, state: "waiting" },
          ...extra,
        });
      const register = await send(url, {
        method: "PUT",
        path: "/instances/t",
        body: JSON.stringify({ config: {} }),
        headers: good,
      });
      const started = await send(url, {
        method: "POST",
        path: "/train",
        body: trainBody("live-1"),
        headers: good,
      });
      if (register.status !== 200 || started.status !== 202) {
        throw new Error(`setup: ${register.status} ${started.status} ${started.text}`);
      }
      const state = async () => ({
        store: await snapshotTree(storeDir),
        instances: await snapshotTree(join(dataDir, "instances")),
        tasks: await snapshotTree(join(dataDir, "served-tasks")),
      });
      const before = await state();

      const routes: Array<{ method: string; path: string; body?: string }> = [
        { method: "POST", path: "/run", body: runBody("t") },
        { method: "POST", path: "/tag", body: runBody("t") },
        { method: "POST", path: "/run?handle=default", body: runBody("t") },
        { method: "POST", path: "/train", body: trainBody("evil-1") },
        { method: "POST", path: "/train", body: trainBody("live-1", { retry: true }) },
        {
          method: "POST",
          path: "/train",
          body: trainBody("live-1", { isStatusCheck: true }).replace(
            '"state":"waiting"',
            '"state":"running","remoteStatusInput":{"hostedTask":"live-1"}',
          ),
        },
        { method: "POST", path: "/cancelTraining", body: trainBody("live-1") },
        { method: "POST", path: "/getTrainingParameters", body: trainBody("live-1") },
        { method: "PUT", path: "/instances/evil", body: JSON.stringify({ config: {} }) },
        { method: "PUT", path: "/instances/t", body: JSON.stringify({ handle: "x", config: {} }) },
        { method: "GET", path: "/tasks/live-1" },
        { method: "GET", path: "/tasks/live-1/events" },
        { method: "POST", path: "/tasks/live-1/cancel", body: "{}" },
        { method: "DELETE", path: "/instances/t" },
        { method: "GET", path: "/instances" },
        { method: "OPTIONS", path: "/train" },
        { method: "PATCH", path: "/run", body: runBody("t") },
        { method: "GET", path: "/no-such-route" },
      ];
      const authorization = fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          "",
          "Bearer",
          "Bearer ",
          `Bearer ${OTHER}`,
          `Bearer ${TOKEN.toUpperCase()}`,
          `Bearer ${TOKEN.slice(0, -1)}`,
          `Bearer ${TOKEN}x`,
          `Bearer  ${TOKEN} extra`,
          `Basic ${Buffer.from(`u:${TOKEN}`).toString("base64")}`,
          `Token ${TOKEN}`,
          TOKEN,
        ),
        fc.string({ maxLength: 80 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 80 }),
      );
      const request = fc.record({
        route: fc.constantFrom(...routes),
        authorization,
        chunked: fc.boolean(),
      });
      let sent = 0;
      const statuses = new Map<number, number>();
      const batches = 4;
      for (let batch = 0; batch < batches; batch++) {
        await fc.assert(
          fc.asyncProperty(request, async ({ route, authorization: auth, chunked }) => {
            const sentRequest: SentRequest = {
              method: route.method,
              path: route.path,
              ...(route.body === undefined ? {} : { body: route.body, chunked }),
              ...(auth === undefined || /[^\t\x20-\x7e]/.test(auth)
                ? {}
                : { headers: { authorization: auth } }),
            };
            const answer = await send(url, sentRequest);
            sent++;
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            if (answer.status !== 401 || !answer.text.includes('"UNAUTHORIZED"')) {
              problems.push(
                `${route.method} ${route.path} (${JSON.stringify(auth)}): ${answer.status} ${answer.text.slice(0, 120)}`,
              );
            }
            if (answer.text.includes(TOKEN)) problems.push("the token was echoed");
          }),
          { seed: SEED + batch, numRuns: Math.ceil(count / batches) },
        );
        const now = await state();
        for (const key of ["store", "instances", "tasks"] as const) {
          if (JSON.stringify(now[key]) !== JSON.stringify(before[key])) {
            problems.push(`after batch ${batch}: the server's ${key} changed`);
          }
        }
      }
      const live = await send(url, { method: "GET", path: "/tasks/live-1", headers: good });
      const liveState = JSON.parse(live.text).task?.state;
      if (liveState !== "running") problems.push(`the live training is ${liveState}`);
      const cancelled = await send(url, {
        method: "POST",
        path: "/tasks/live-1/cancel",
        body: "{}",
        headers: good,
      });
      const cancelledState = JSON.parse(cancelled.text).task?.state;
      if (cancelledState !== "cancelled")
        problems.push(`with the token, cancel: ${cancelledState}`);
      recordCase({
        id: "hostile-requests.unauthenticated",
        backend: "http",
        method: `a plugin server with a bearer token and a training of its own running; ${sent} requests (fast-check, seed ${SEED}) over ${routes.length} route/method pairs — run, tag, train (new, retry, status check of the live task), cancelTraining, getTrainingParameters, instance registration, the task routes, unknown routes and methods — with no Authorization header or a wrong one (other token, changed case, one character short or long, Basic, no scheme, random strings), bodies declared or chunked; the store, registered instances and the server's task table compared after each batch`,
        trials: sent,
        outcome:
          `${statuses.get(401) ?? 0} of ${sent} answered 401 UNAUTHORIZED, the token never echoed; the store, the registered instances and the task table unchanged after every batch; the running training still running, then cancelled with the token (${cancelledState})` +
          (problems.length ? `; FAILED: ${problems.slice(0, 5).join("; ")}` : ""),
        passed: problems.length === 0,
      });
    } finally {
      await served.close();
      await store.close();
    }
    expect(problems).toEqual([]);
  }, 600_000);
});
