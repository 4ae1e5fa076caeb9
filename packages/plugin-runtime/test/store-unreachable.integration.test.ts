import { connect, createServer, type Server, type Socket } from "node:net";
import { createModelCache, type ModelCacheImpl } from "@trainable/cache";
import { RemoteError } from "@trainable/core";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import { createS3Backend } from "@trainable/storage/s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { createPluginApp, type ServedPlugin, servePlugin } from "../src/index.js";
import { silentLogger } from "./__fixtures__/env.js";
import { KeywordModel, KeywordTagger, sleep } from "./__fixtures__/plugins.mjs";

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

const runBody = {
  data: { file: { blocks: [{ id: "b1", text: "cheap spam now" }] } },
  context: { pluginInstanceId: "served" },
};

/**
 * The store (a real S3 server, reached through a proxy) goes away after warm-up: `/run` keeps
 * answering from the cache, and says so in the cache's stats, however long it stays away.
 */
describe("/run with the store unreachable after warm-up", () => {
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  let store: CheckpointStoreImpl;
  let cache: ModelCacheImpl;
  let served: ServedPlugin;
  const warnings: string[] = [];

  beforeAll(async () => {
    const s3 = getS3TestConfig();
    proxy = await startCuttableProxy(new URL(s3.endpoint));
    const backend = await createS3Backend({
      bucket: s3.bucket,
      prefix: `${s3.prefix}runtime-unreachable-${process.pid}-${Date.now().toString(36)}/`,
      endpoint: proxy.url,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      maxAttempts: 1,
    });
    store = await createCheckpointStore({ backend, workspace: "ws" });
    const model = new KeywordModel();
    model.keywords = ["spam"];
    await model.saveRemote({ store, pluginInstanceId: "served" });
    cache = createModelCache({
      store,
      diskDir: false,
      // Every call past 20 ms asks the store and waits for it (no stale-while-revalidate):
      // the store's failure, not a background refresh, is what the answers have to survive.
      revalidateMs: 20,
      staleWhileRevalidateMs: 0,
      logger: { warn: (message: string) => void warnings.push(message) },
    });
    const app = createPluginApp(new KeywordTagger(), {
      store,
      cache,
      instances: { served: { config: { tagKind: "kw" } }, never: { config: { tagKind: "kw" } } },
      logger: silentLogger,
    });
    served = await servePlugin(app, { port: 0 });
  });

  afterAll(async () => {
    await served?.close();
    await store?.close();
  });

  const run = async (instance = "served") => {
    const response = await fetch(`${served.url}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...runBody, context: { pluginInstanceId: instance } }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("keeps answering from the cache, counting what it served stale", async () => {
    const warm = await run();
    expect(warm.status).toBe(200);
    const tags = JSON.stringify(warm.body.data);
    expect(tags).toContain('"name":"spam"');

    await proxy.cut();
    // The store really is gone: a direct call fails as unreachable.
    await expect(store.resolve({ pluginInstanceId: "served" })).rejects.toSatisfy(
      (error: unknown) => RemoteError.isInstance(error) && error.retryable,
    );

    const before = cache.stats();
    for (let i = 0; i < 25; i++) {
      await sleep(25); // past revalidateMs every time
      const answer = await run();
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(JSON.stringify(answer.body.data)).toBe(tags);
    }
    const after = cache.stats();
    expect(after.staleServed - before.staleServed).toBeGreaterThanOrEqual(1);
    expect(after.revalidationErrors - before.revalidationErrors).toBeGreaterThanOrEqual(1);
    // Logged once for the failure streak, not once per request.
    expect(warnings.filter((w) => w.includes("served"))).toHaveLength(1);

    // A model never loaded cannot be served: a clear retryable error, promptly.
    const never = await run("never");
    expect(never.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(never.body)).toMatch(/REMOTE|unreachable|ECONNREFUSED/);
  });
});
