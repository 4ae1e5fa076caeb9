import { createModelCache } from "@trainable/cache";
import { servePlugin, type TaggerOutput } from "@trainable/plugin-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeywordTagger } from "../src/index.js";
import { file, setup } from "./helpers.js";

let env: Awaited<ReturnType<typeof setup>>;
beforeEach(async () => {
  env = await setup();
});
afterEach(async () => {
  await env.cleanup();
});

interface Body {
  data: TaggerOutput;
  error: { code: string; message: string };
}

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Body };
};

describe("keyword tagger over HTTP", () => {
  it("serves POST /tag on a real socket and follows a moved default", async () => {
    const { engine, store } = env;
    await engine.createInstance({ id: "web", plugin: "keyword-tagger", config: { tagKind: "kw" } });
    await engine.train("web", { trainingParams: { keywords: ["spam"] } });

    // A separate server process would have its own cache; this one revalidates every 50 ms.
    const cache = createModelCache({
      store,
      diskDir: false,
      revalidateMs: 50,
      // Strict: past revalidateMs, a call waits for the store (the default serves the known
      // version once more while it asks in the background).
      staleWhileRevalidateMs: 0,
    });
    const served = await servePlugin(new KeywordTagger(), {
      port: 0,
      store,
      cache,
      instances: engine.instances,
      logger: { error() {} },
    });
    try {
      const health = await fetch(`${served.url}/health`).then((r) => r.json());
      expect(health).toMatchObject({ status: "ok", trainable: true });

      const request = {
        data: file("buy spam", "no match here"),
        context: { pluginInstanceId: "web" },
      };
      const first = await post(`${served.url}/tag`, request);
      expect(first.status).toBe(200);
      expect(first.body.data.file.blocks[0]!.tags).toEqual([
        { kind: "kw", name: "spam", startIdx: 4, endIdx: 8 },
      ]);
      expect(first.body.data.file.blocks[1]!.tags).toEqual([]);

      await engine.train("web", { trainingParams: { keywords: ["buy", "match"] } });
      await new Promise((r) => setTimeout(r, 80));
      const second = await post(`${served.url}/run`, request);
      expect(second.body.data.file.blocks.map((b) => b.tags)).toEqual([
        [{ kind: "kw", name: "buy", startIdx: 0, endIdx: 3 }],
        [{ kind: "kw", name: "match", startIdx: 3, endIdx: 8 }],
      ]);

      const bad = await post(`${served.url}/tag`, {
        data: { file: { blocks: [{ txt: "x" }] } },
        context: { pluginInstanceId: "web" },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe("VALIDATION");

      const unknown = await post(`${served.url}/tag`, {
        data: file("x"),
        context: { pluginInstanceId: "nobody" },
      });
      expect(unknown.status).toBe(404);
    } finally {
      await served.close();
    }
  });

  it("trains over HTTP: the engine drives a served plugin", async () => {
    const { store, cache, engine } = env;
    const { createHttpPluginClient } = await import("@trainable/plugin-runtime");
    const served = await servePlugin(new KeywordTagger(), {
      port: 0,
      store,
      cache,
      allowInstanceRegistration: true,
      logger: { error() {} },
    });
    try {
      engine.registerPlugin("remote-tagger", createHttpPluginClient(served.url));
      await engine.createInstance({ id: "remote", plugin: "remote-tagger" });
      const task = await engine.train("remote", { trainingParams: { keywords: ["hello"] } });
      expect(task.state).toBe("succeeded");
      expect(task.output?.archivePath).toMatch(
        /^examples\/remote\/blobs\/[0-9a-z]{9}-[0-9a-f]{16}\.tar(\.gz)?$/,
      );
      const output = (await engine.run("remote", file("Hello, hello!"))) as {
        file: { blocks: { tags: { startIdx: number }[] }[] };
      };
      expect(output.file.blocks[0]!.tags.map((t) => t.startIdx)).toEqual([0, 7]);
    } finally {
      await served.close();
    }
  });
});
