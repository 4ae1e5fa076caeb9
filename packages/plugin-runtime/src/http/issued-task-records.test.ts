import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateId } from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import { createIssuedTaskRecords } from "./issued-task-records.js";
import type { IssuedTask } from "./issued-tasks.js";

const at = "2026-01-01T00:00:00.000Z";
const record = (taskId: string): IssuedTask => ({
  taskId,
  instanceId: "i1",
  issued: [],
  createdAt: at,
  updatedAt: at,
});
const id = (value: string) => validateId(value, "taskId");

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("createIssuedTaskRecords", () => {
  it("in memory: keeps the last maxTasks records", async () => {
    const records = createIssuedTaskRecords({ maxTasks: 2 });
    for (const name of ["a", "b", "c"]) await records.write(id(name), record(name));
    expect((await records.list()).map((t) => t.taskId)).toEqual(["b", "c"]);
    expect(await records.read(id("a"))).toBeUndefined();
    await records.remove(id("b"));
    expect((await records.list()).map((t) => t.taskId)).toEqual(["c"]);
  });

  it("in a folder: one versioned JSON file per task, read back and listed", async () => {
    dir = await mkdtemp(join(tmpdir(), "issued-records-"));
    const records = createIssuedTaskRecords({ dir });
    expect(await records.list()).toEqual([]);
    await records.write(id("t1"), record("t1"));
    expect(JSON.parse(await readFile(join(dir, "t1.json"), "utf8"))).toEqual({
      version: 1,
      ...record("t1"),
    });
    expect(await createIssuedTaskRecords({ dir }).read(id("t1"))).toEqual(record("t1"));
    await writeFile(join(dir, "t2.json"), "not json");
    await writeFile(join(dir, "t3.json"), JSON.stringify({ version: 1, ...record("other") }));
    await writeFile(join(dir, "bad name!.json"), JSON.stringify({ version: 1, ...record("x") }));
    expect((await records.list()).map((t) => t.taskId)).toEqual(["t1"]);
    await records.remove(id("t1"));
    expect(await records.read(id("t1"))).toBeUndefined();
  });

  it("a missing folder lists nothing", async () => {
    const records = createIssuedTaskRecords({ dir: join(tmpdir(), "no-such-issued-dir-x9") });
    expect(await records.list()).toEqual([]);
  });
});
