import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cancelRequestPath, watchCancelRequest, writeCancelRequest } from "./cancel-request.js";

describe("cancel requests", () => {
  let taskDir: string;

  beforeEach(async () => {
    taskDir = join(await mkdtemp(join(tmpdir(), "runtime-cancel-")), "tasks", "task-1");
    await mkdir(taskDir, { recursive: true });
  });
  afterEach(async () => {
    await rm(join(taskDir, "..", ".."), { recursive: true, force: true });
  });

  it("writes the request beside the task's record: when and by which process", async () => {
    await writeCancelRequest(taskDir, new Date("2025-03-01T00:00:00.000Z"));
    expect(cancelRequestPath(taskDir)).toBe(join(taskDir, "cancel-request.json"));
    expect(JSON.parse(await readFile(cancelRequestPath(taskDir), "utf8"))).toEqual({
      requestedAt: "2025-03-01T00:00:00.000Z",
      pid: process.pid,
    });
  });

  it("calls the watcher once when the request appears, then stops looking", async () => {
    let seen = 0;
    const stop = watchCancelRequest(taskDir, () => seen++, 10);
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toBe(0);
      await writeCancelRequest(taskDir, new Date());
      await expect.poll(() => seen, { timeout: 2000 }).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen).toBe(1);
    } finally {
      stop();
    }
  });

  it("a stopped watcher never calls back", async () => {
    let seen = 0;
    watchCancelRequest(taskDir, () => seen++, 10)();
    await writeCancelRequest(taskDir, new Date());
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(seen).toBe(0);
    expect(existsSync(cancelRequestPath(taskDir))).toBe(true);
  });
});
