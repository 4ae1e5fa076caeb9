import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskEvent } from "@trainable/plugin-runtime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalTaskLog } from "./local-task-log.js";

const task = (taskId: string, state: string, updatedAt: string, createdAt = updatedAt) => ({
  schemaVersion: 1,
  taskId,
  instanceId: "inst",
  plugin: "echo",
  state,
  createdAt,
  updatedAt,
  deadline: "2030-01-01T00:00:00.000Z",
  input: { pluginInstance: "inst" },
  save: { handle: "default", setAsDefault: true },
  statusChecks: 0,
  updates: [],
});

describe("createLocalTaskLog", () => {
  let tasksDir: string;
  let events: TaskEvent[];
  let problems: string[];
  const write = async (id: string, value: unknown) => {
    await mkdir(join(tasksDir, id), { recursive: true });
    await writeFile(join(tasksDir, id, "task.json"), JSON.stringify(value));
  };
  const open = () =>
    createLocalTaskLog({
      tasksDir,
      onEvent: (event) => events.push(event),
      problem: (_key, message) => problems.push(message),
    });

  beforeEach(async () => {
    tasksDir = join(await mkdtemp(join(tmpdir(), "cli-task-log-")), "tasks");
    events = [];
    problems = [];
  });
  afterEach(async () => {
    await rm(join(tasksDir, ".."), { recursive: true, force: true });
  });

  it("scans nothing when there is no tasks folder", async () => {
    const log = open();
    await log.scan();
    expect(log.sorted()).toEqual([]);
  });

  it("turns new and changed records into created, update and finished events, newest first", async () => {
    const log = open();
    await write("t1", task("t1", "running", "2026-01-01T00:00:00.000Z"));
    await write("t2", task("t2", "waiting", "2026-01-02T00:00:00.000Z"));
    await log.scan();
    expect(events.map((e) => [e.type, e.taskId]).sort()).toEqual([
      ["created", "t1"],
      ["created", "t2"],
    ]);
    expect(log.sorted().map((t) => t.taskId)).toEqual(["t2", "t1"]);
    events = [];
    await write("t1", {
      ...task("t1", "succeeded", "2026-01-03T00:00:00.000Z", "2026-01-01T00:00:00.000Z"),
    });
    await log.scan();
    expect(events.map((e) => [e.type, e.taskId])).toEqual([["finished", "t1"]]);
    expect(log.get("t1")?.state).toBe("succeeded");
  });

  it("reports an unreadable record and never scans a folder that is not a valid id", async () => {
    const log = open();
    await mkdir(join(tasksDir, "bad"), { recursive: true });
    await writeFile(join(tasksDir, "bad", "task.json"), "{ not json");
    await write(".hidden", task("x", "running", "2026-01-01T00:00:00.000Z"));
    await log.scan();
    expect(events).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/skipped .*bad.*task\.json/);
    expect(log.get(".hidden")).toBeUndefined();
    expect(log.sorted()).toEqual([]);
  });
});
