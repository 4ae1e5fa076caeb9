import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import {
  type ClassifierOutput,
  createLocalEngine,
  type TaskEvent,
  TrainingTask,
} from "@trainable/plugin-runtime";
import { createCheckpointStore } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExternalClassifier, ServiceClient } from "../src/index.js";
import { type RunningService, startService } from "./start-service.js";

const child = join(import.meta.dirname, "__fixtures__", "engine-child.mjs");

interface ChildEvent {
  type: TaskEvent["type"];
  taskId: string;
  state: string;
  statusChecks: number;
}

/** Starts the engine child; resolves once `until` matches one of its events. */
function startEngineChild(
  args: string[],
  until: (event: ChildEvent) => boolean,
): Promise<{ process: ChildProcess; event: ChildEvent }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
        if (until(event)) resolve({ process: proc, event });
      }
    });
    proc.once("exit", (code, signal) =>
      reject(new Error(`engine child exited early (${code ?? signal}): ${stderr}`)),
    );
    setTimeout(() => reject(new Error(`engine child timed out: ${stderr}`)), 30_000).unref();
  });
}

let root: string;
let service: RunningService;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "external-trainer-restart-"));
  // 30 epochs of 100 ms: the job runs for ~3 s, long enough to kill the engine mid-job.
  service = await startService({ dataDir: join(root, "service"), stepMs: 100 });
});

afterAll(async () => {
  await service?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("engine restart while the external job runs", () => {
  it("a new engine resumes the status checks; the task succeeds and default moves", async () => {
    const dataDir = join(root, "engine");
    const storeUrl = pathToFileURL(join(root, "store")).href;

    // 1. An engine in its own process starts the training and checks on the job a few times…
    const { process: engineProcess, event } = await startEngineChild(
      [dataDir, storeUrl, service.url, "30"],
      (e) => e.type === "status" && e.statusChecks >= 2,
    );
    // 2. …and dies without any chance to clean up.
    const killed = new Promise((resolve) => engineProcess.once("exit", resolve));
    engineProcess.kill("SIGKILL");
    await killed;
    const taskFile = join(dataDir, "tasks", event.taskId, "task.json");
    const onDisk = TrainingTask.parse(JSON.parse(await readFile(taskFile, "utf8")));
    expect(onDisk.state).toBe("running");
    const jobId = onDisk.remoteStatus?.remoteStatusInput?.jobId as string;
    expect(jobId).toEqual(expect.any(String));
    const job = await new ServiceClient(service.url).getJob(jobId);
    expect(job.state).toMatch(/queued|running/);

    // 3. A new engine on the same dataDir picks the task up where it was.
    const store = await createCheckpointStore({ url: storeUrl, workspace: "examples" });
    const cache = createModelCache({ store, diskDir: join(root, "cache") });
    const engine = await createLocalEngine({
      store,
      cache,
      dataDir,
      pollPolicy: { minDelayMs: 10 },
    });
    try {
      expect(engine.getTask(event.taskId)?.state).toBe("running");
      engine.registerPlugin("external-trainer", new ExternalClassifier());
      const resumed = await engine.resume();
      expect(resumed.resumed).toEqual([event.taskId]);
      expect(resumed.interrupted).toEqual([]);

      const task = await engine.wait(event.taskId);
      expect(task.state, task.error?.message).toBe("succeeded");
      expect(task.statusChecks).toBeGreaterThan(onDisk.statusChecks);
      const results = task.output?.trainingResults as Record<string, unknown>;
      expect(results.jobId).toBe(jobId); // the same job: nothing was submitted twice
      expect(results.epochs).toBe(30);
      expect(results.trainingAccuracy).toBeGreaterThanOrEqual(0.9);

      const refs = await store.list({ pluginInstanceId: "ext" });
      const v1 = refs.find((r) => r.handle === "v1");
      expect(v1).toBeDefined();
      expect(refs.find((r) => r.handle === "default")?.digest).toBe(v1!.digest);
      const health = (await (await fetch(`${service.url}/health`)).json()) as { jobs: number };
      expect(health.jobs).toBe(1);

      const output = (await engine.run("ext", {
        texts: ["the staff were friendly and the food was great", "a boring and awful evening"],
      })) as ClassifierOutput;
      expect(output.results.map((r) => r.labels[0]!.label)).toEqual(["positive", "negative"]);
    } finally {
      await engine.close();
      await cache.close();
      await store.close();
    }
  });
});
