import { type ChildProcess, spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createHttpPluginClient,
  createLocalEngine,
  type ServedPlugin,
  servePlugin,
  TrainingTask,
} from "../src/index.js";
import { ensureBuilt } from "./__fixtures__/ensure-built.js";
import { createTestEnv, silentLogger, type TestEnv } from "./__fixtures__/env.js";
import { ExternalTagger } from "./__fixtures__/plugins.mjs";

const child = join(import.meta.dirname, "__fixtures__", "engine-child.mjs");

interface ChildEvent {
  type: string;
  taskId: string;
  state: string;
  statusChecks: number;
}

/** Starts the engine child and resolves once `until` matches one of its events. */
function startChild(
  args: string[],
  until: (event: ChildEvent) => boolean,
): Promise<{ process: ChildProcess; event: ChildEvent; events: ChildEvent[] }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const events: ChildEvent[] = [];
    let stderr = "";
    let buffer = "";
    proc.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    proc.stdout.on("data", (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const event = JSON.parse(buffer.slice(0, nl)) as ChildEvent;
        buffer = buffer.slice(nl + 1);
        events.push(event);
        if (until(event)) resolve({ process: proc, event, events });
      }
    });
    proc.once("exit", (code, signal) =>
      reject(new Error(`engine child exited early (${code ?? signal}): ${stderr}`)),
    );
    setTimeout(() => reject(new Error(`engine child timed out: ${stderr}`)), 30_000).unref();
  });
}

describe.each(["in-process", "http"] as const)("crash and restart (%s plugin)", (mode) => {
  let env: TestEnv;
  let served: ServedPlugin | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    env = await createTestEnv();
    if (mode === "http") {
      // The plugin server outlives the engine: only the engine crashes.
      served = await servePlugin(new ExternalTagger(), {
        port: 0,
        store: env.store,
        allowInstanceRegistration: true,
        dataDir: env.dir("plugin-server"),
        logger: silentLogger,
      });
    }
  }, 240_000);

  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
  });

  it("resumes an asynchronous training after the engine is SIGKILLed, and it succeeds", async () => {
    const dataDir = env.dir("engine");
    const jobsDir = env.dir("jobs");
    const plugin = served ? served.url : "in-process";
    const { process: proc, event } = await startChild(
      [dataDir, pathToFileURL(env.storeDir).href, jobsDir, plugin],
      (e) => e.type === "status" && e.statusChecks >= 1,
    );
    proc.kill("SIGKILL");
    await new Promise((resolve) => proc.once("exit", resolve));
    const taskId = event.taskId;

    // What the killed engine left: a running task with the plugin's last status, and (for
    // an in-process plugin) the in-training model's folder.
    const left = TrainingTask.parse(
      JSON.parse(await readFile(join(dataDir, "tasks", taskId, "task.json"), "utf8")),
    );
    expect(left.state).toBe("running");
    expect(left.remoteStatus?.remoteStatusInput?.jobId).toMatch(/^job-/);
    if (mode === "in-process") {
      // The in-training model's state: its folder and the status it last answered.
      const kept = join(dataDir, "tasks", taskId, "model");
      expect((await stat(join(kept, "model", "model.json"))).isFile()).toBe(true);
      expect(JSON.parse(await readFile(join(kept, "status.json"), "utf8"))).toMatchObject({
        state: "running",
        remoteStatusInput: { jobId: left.remoteStatus?.remoteStatusInput?.jobId },
      });
    }
    const checksBefore = left.statusChecks;

    const engine = await createLocalEngine({
      store: env.store,
      cache: env.cache,
      dataDir,
      pollPolicy: { initialDelayMs: 20, minDelayMs: 10 },
      logger: silentLogger,
    });
    try {
      expect(engine.listTasks().map((t) => [t.taskId, t.state])).toEqual([[taskId, "running"]]);
      const before = await engine.resume();
      expect(before.skipped).toEqual([{ taskId, reason: 'plugin "external" is not registered' }]);
      engine.registerPlugin(
        "external",
        served ? createHttpPluginClient(served.url) : new ExternalTagger(),
      );
      expect(await engine.resume()).toEqual({ resumed: [taskId], interrupted: [], skipped: [] });
      const task = await engine.wait(taskId);

      expect(task.state, task.error?.message).toBe("succeeded");
      expect(task.statusChecks).toBeGreaterThan(checksBefore);
      expect(task.output?.trainingResults).toMatchObject({ keywordCount: 1 });
      const ref = await env.store.resolve({ pluginInstanceId: "ext" });
      expect(ref.archivePath).toBe(task.output?.archivePath);
      expect(ref.handle).toBe("default");
      const output = (await engine.run("ext", { file: { blocks: [{ text: "delta force" }] } })) as {
        file: { blocks: Array<{ tags: Array<{ name: string }> }> };
      };
      expect(output.file.blocks[0]?.tags.map((t) => t.name)).toEqual(["delta"]);
    } finally {
      await engine.close();
    }
  });
});
