import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import "../../../tools/redis-server/redis-test-config.js";
import { bin, spawnCli } from "./__fixtures__/spawn-cli.js";

const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");
let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "trainable-cli-queue-"));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function queueUrl(): string {
  const redis = inject("redis");
  return `${redis.url}?queue=q${randomBytes(4).toString("hex")}&prefix=${redis.prefix}`;
}

describe("trainable worker / train --queue (distributed engine on Redis)", () => {
  it("a worker process drives a training asked by `train --queue`; Ctrl-C stops the worker", async () => {
    const queue = queueUrl();
    const worker = spawn(process.execPath, [bin, "worker", "--queue", queue, "--plugin", plugin], {
      cwd,
      env: { ...process.env, NODE_NO_WARNINGS: "1", TRAINABLE_CACHE_DIR: join(cwd, "cache") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => worker.on("exit", resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: worker.stdout }).on("line", (line) => {
          if (line.startsWith("worker for echo-plugin")) resolve();
        });
        worker.on("exit", () => reject(new Error("the worker exited before it was ready")));
      });
      // The queue from the environment, as a deployment would set it.
      const trained = await spawnCli(
        cwd,
        ["train", "--plugin", plugin, "--instance", "q", "--param", "word=queued", "--json"],
        { env: { TRAINABLE_QUEUE: queue } },
      );
      expect(trained.stderr).not.toContain("error");
      expect(trained.code).toBe(0);
      const task = JSON.parse(trained.stdout);
      expect(task).toMatchObject({ state: "succeeded", instanceId: "q" });
      // The worker saved to the shared store: `run` here serves the model it trained.
      const ran = await spawnCli(cwd, [
        "run",
        "--plugin",
        plugin,
        "--instance",
        "q",
        "--input",
        JSON.stringify({ file: { blocks: [{ text: "was queued" }] } }),
      ]);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('"name": "queued"');
    } finally {
      worker.kill("SIGINT");
      expect(await exited).toBe(0);
    }
  });

  it("refuses a bad --queue before opening anything, naming the flag or the variable", async () => {
    let r = await spawnCli(cwd, ["worker", "--plugin", plugin]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--queue is required/);
    r = await spawnCli(cwd, ["worker", "--plugin", plugin, "--queue", "http://127.0.0.1:6379"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --queue: expected a redis:\/\/ or rediss:\/\/ URL/);
    r = await spawnCli(cwd, ["train", "--plugin", plugin, "--instance", "q"], {
      env: { TRAINABLE_QUEUE: "redis://127.0.0.1:6379/0?bogus=1" },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid TRAINABLE_QUEUE: unknown parameter "bogus"/);
  });

  it("an unreachable queue fails the command (exit 1) with a message naming it, never hangs", async () => {
    const r = await spawnCli(cwd, [
      "tasks",
      "--queue",
      "redis://someone:s3cret-pw@127.0.0.1:1/0?connectTimeoutMs=500",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error \[REMOTE\]: .*Could not connect to Redis at 127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(r.stderr).not.toContain("s3cret-pw");
    const bad = await spawnCli(cwd, [
      "tasks",
      "--queue",
      "redis://127.0.0.1:1/0?connectTimeoutMs=0",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Invalid --queue: connectTimeoutMs must be/);
  });

  it("tasks --queue lists the queue's trainings; cancel --queue stops a running one on its worker", async () => {
    const queue = queueUrl();
    const env = { ...process.env, NODE_NO_WARNINGS: "1", TRAINABLE_CACHE_DIR: join(cwd, "cache") };
    const worker = spawn(process.execPath, [bin, "worker", "--queue", queue, "--plugin", plugin], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => worker.on("exit", resolve));
    try {
      await new Promise<void>((resolve) => {
        createInterface({ input: worker.stdout }).on("line", (line) => {
          if (line.startsWith("worker for echo-plugin")) resolve();
        });
      });
      const training = spawnCli(cwd, [
        "train",
        "--queue",
        queue,
        "--plugin",
        plugin,
        "--instance",
        "long",
        "--param",
        "word=slow",
        "--param",
        "sleepMs=30000",
      ]);
      let running: Array<{ taskId: string; state: string }> = [];
      for (let i = 0; i < 100 && running.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const listed = await spawnCli(cwd, [
          "tasks",
          "--queue",
          queue,
          "--state",
          "running",
          "--json",
        ]);
        expect(listed.code).toBe(0);
        running = JSON.parse(listed.stdout);
      }
      expect(running).toHaveLength(1);
      // `resume --queue` waits for the plugin's unfinished trainings (workers resume them).
      const resumed = spawnCli(cwd, ["resume", "--queue", queue, "--plugin", plugin, "--json"]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const started = Date.now();
      const cancelled = await spawnCli(cwd, ["cancel", running[0]?.taskId ?? "", "--queue", queue]);
      expect(cancelled.stderr).toBe("");
      expect(cancelled.code).toBe(0);
      expect(cancelled.stdout).toMatch(/: cancelled$/m);
      expect(Date.now() - started).toBeLessThan(5_000);
      const trained = await training;
      expect(trained.code).toBe(1);
      expect(trained.stderr).toMatch(/cancelled/);
      const waited = await resumed;
      expect(waited.code).toBe(0);
      expect(JSON.parse(waited.stdout)).toMatchObject({
        resumed: [running[0]?.taskId],
        tasks: [{ taskId: running[0]?.taskId, state: "cancelled" }],
      });
      const all = await spawnCli(cwd, ["tasks", "--queue", queue]);
      expect(all.stdout).toMatch(/long {2}cancelled/);
    } finally {
      worker.kill("SIGINT");
      expect(await exited).toBe(0);
    }
  });

  it("`trainable cancel` on the local engine stops a training another live process drives", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trainable-cli-local-"));
    try {
      const training = spawnCli(dir, [
        "train",
        "--plugin",
        plugin,
        "--instance",
        "loc",
        "--param",
        "word=here",
        "--param",
        "sleepMs=3000",
      ]);
      let taskId: string | undefined;
      while (!taskId) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const listed = await spawnCli(dir, ["tasks", "--json", "--state", "running"]);
        taskId = (JSON.parse(listed.stdout || "[]") as { taskId: string }[])[0]?.taskId;
      }
      // The engine in this process does not drive it: it asks the one that does, and waits.
      const cancelled = await spawnCli(dir, ["cancel", taskId, "--plugin", plugin, "--json"]);
      expect(cancelled.stderr).toBe("");
      expect(cancelled.code).toBe(0);
      expect(JSON.parse(cancelled.stdout)).toMatchObject({ taskId, state: "cancelled" });
      const ended = await training;
      expect(ended.code).toBe(1);
      expect(ended.stderr).toMatch(/cancelled: Training cancelled: requested by another process/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("tasks and cancel on the local engine (--data-dir)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trainable-cli-local-"));
    try {
      const trained = await spawnCli(dir, [
        "train",
        "--plugin",
        plugin,
        "--instance",
        "loc",
        "--param",
        "word=here",
        "--json",
      ]);
      expect(trained.code).toBe(0);
      const task = JSON.parse(trained.stdout);
      const listed = await spawnCli(dir, ["tasks", "--json"]);
      expect(JSON.parse(listed.stdout).map((t: { taskId: string }) => t.taskId)).toEqual([
        task.taskId,
      ]);
      let r = await spawnCli(dir, ["cancel", task.taskId]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--plugin is required/);
      r = await spawnCli(dir, ["cancel", task.taskId, "--plugin", plugin]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/: succeeded$/m);
      r = await spawnCli(dir, ["tasks", "--state", "bogus"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/Invalid --state: must be one of/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
