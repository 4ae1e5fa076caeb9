import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotFoundError, ValidationError, validateId } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requestCancel, watchCancelRequest } from "./cancel-request.js";

describe("cancel requests", () => {
  let dataDir: string;
  const taskId = validateId("task-1", "taskId");

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "cli-cancel-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses a task the data dir does not have", async () => {
    await expect(requestCancel(dataDir, taskId)).rejects.toThrow(NotFoundError);
  });

  it("writes the request beside the task's record, where the watcher sees it once", async () => {
    await mkdir(join(dataDir, "tasks", taskId), { recursive: true });
    let seen = 0;
    const stop = watchCancelRequest({
      dataDir,
      taskId,
      intervalMs: 10,
      onRequest: () => seen++,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toBe(0);
      await requestCancel(dataDir, taskId);
      expect(existsSync(join(dataDir, "tasks", taskId, "cancel-request.json"))).toBe(true);
      await expect.poll(() => seen, { timeout: 2000 }).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toBe(1);
    } finally {
      stop();
    }
  });

  it("checks the task id it is given before it names a path", () => {
    expect(() => watchCancelRequest({ dataDir, taskId: "../escape", onRequest: () => {} })).toThrow(
      ValidationError,
    );
  });
});
