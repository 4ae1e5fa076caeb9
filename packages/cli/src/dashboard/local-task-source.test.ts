import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateId } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalTaskSource } from "./local-task-source.js";

describe("createLocalTaskSource: cancel", () => {
  let dataDir: string;
  const taskId = validateId("orphan-1", "taskId");
  const taskFile = () => join(dataDir, "tasks", taskId, "task.json");

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "cli-task-source-"));
    // A training whose process died mid-way: its record says `running`, no lock is held.
    const at = new Date().toISOString();
    const record = {
      ...{ schemaVersion: 1, taskId, instanceId: "inst", plugin: "echo", state: "running" },
      ...{ phase: "training", createdAt: at, updatedAt: at, deadline: "2099-01-01T00:00:00Z" },
      ...{ input: { pluginInstance: "inst" }, save: { handle: "h", setAsDefault: true } },
      ...{ statusChecks: 0, updates: [] },
    };
    await mkdir(join(dataDir, "tasks", taskId), { recursive: true });
    await writeFile(taskFile(), JSON.stringify(record));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("ends a training no live process drives as cancelled, at once", async () => {
    const source = createLocalTaskSource({ dataDir, cancelWaitMs: 60_000 });
    try {
      const answer = await source.cancel(taskId);
      expect(answer.requested).toBe(false);
      expect(answer.task).toMatchObject({ state: "cancelled", error: { code: "CANCELLED" } });
      expect(JSON.parse(await readFile(taskFile(), "utf8"))).toMatchObject({ state: "cancelled" });
      expect((await source.cancel(taskId)).task.state).toBe("cancelled");
    } finally {
      await source.close();
    }
  });

  it("refuses an unknown task", async () => {
    const source = createLocalTaskSource({ dataDir });
    try {
      await expect(source.cancel(validateId("nope", "taskId"))).rejects.toThrow(/Unknown task/);
    } finally {
      await source.close();
    }
  });
});
