import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError, validateId } from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import { createIssuedTaskRecords } from "./issued-task-records.js";
import type { IssuedTask } from "./issued-tasks.js";
import { pruneIssuedTaskFiles } from "./prune-issued-task-files.js";

const at = "2026-01-01T00:00:00.000Z";
const record = (taskId: string): IssuedTask => ({
  taskId,
  instanceId: "i1",
  issued: [],
  createdAt: at,
  updatedAt: at,
});
const id = (value: string) => validateId(value, "taskId");
const DAY = 24 * 60 * 60 * 1000;
const t0 = Date.UTC(2026, 0, 10);
const ended = (taskId: string, endedAtMs: number): IssuedTask => ({
  ...record(taskId),
  endedAt: new Date(endedAtMs).toISOString(),
});
/** A clock for the records: `clock.ms` is now. */
const clock = { ms: t0, now: () => new Date(clock.ms) };

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

  it("in a folder: a write prunes ended records past the retention, at most once per interval", async () => {
    dir = await mkdtemp(join(tmpdir(), "issued-records-"));
    clock.ms = t0;
    const records = createIssuedTaskRecords({ dir, endedRetentionMs: DAY, now: clock.now });
    await records.write(id("old"), ended("old", t0 - 2 * DAY));
    await records.write(id("run"), record("run"));
    await records.idle();
    expect((await records.list()).map((t) => t.taskId)).toEqual(["run"]);
    // Within the interval a write does not scan the folder again.
    await records.write(id("old2"), ended("old2", t0 - 2 * DAY));
    await records.write(id("x"), record("x"));
    await records.idle();
    expect((await records.list()).map((t) => t.taskId).sort()).toEqual(["old2", "run", "x"]);
    clock.ms = t0 + DAY;
    await records.write(id("y"), record("y"));
    await records.idle();
    expect((await records.list()).map((t) => t.taskId).sort()).toEqual(["run", "x", "y"]);
    expect((await readdir(dir)).filter((n) => !n.startsWith(".")).sort()).toEqual([
      "run.json",
      "x.json",
      "y.json",
    ]);
  });

  it("in a folder: a record removed while a prune holds it in a claim is not put back", async () => {
    dir = await mkdtemp(join(tmpdir(), "issued-records-"));
    const records = createIssuedTaskRecords({ dir, now: clock.now });
    await records.write(id("a"), record("a"));
    await records.idle();
    // A prune claimed it (written again since its scan, it is to be put back)...
    await rename(join(dir, "a.json"), join(dir, "a.json.0123abcd.pruning"));
    await records.remove(id("a")); // ...when its training was cancelled
    // The claim is gone: neither that prune nor a later one puts the record back.
    await pruneIssuedTaskFiles({
      dir,
      now: new Date(Date.now() + DAY),
      endedRetentionMs: DAY,
      maxTasks: 100,
    });
    expect(await records.read(id("a"))).toBeUndefined();
    expect((await readdir(dir)).filter((n) => !n.startsWith("."))).toEqual([]);
  });

  it("a failed background prune whose error report throws leaves no rejection unhandled", async () => {
    dir = await mkdtemp(join(tmpdir(), "issued-records-"));
    await mkdir(join(dir, ".pruned")); // the prune's marker cannot be written: it fails
    const reported: unknown[] = [];
    const records = createIssuedTaskRecords({
      dir,
      now: clock.now,
      onPruneError: (error) => {
        reported.push(error);
        throw new Error("the logger failed too");
      },
    });
    await records.write(id("a"), record("a"));
    await expect(records.idle()).resolves.toBeUndefined();
    expect(reported).toHaveLength(1);
    expect(await records.read(id("a"))).toMatchObject({ taskId: "a" });
  });

  it("in a folder: maxTasks bounds the ended records kept, oldest ended out first", async () => {
    dir = await mkdtemp(join(tmpdir(), "issued-records-"));
    clock.ms = t0;
    const records = createIssuedTaskRecords({ dir, maxTasks: 2, now: clock.now });
    await records.write(id("r1"), record("r1"));
    await records.write(id("r2"), record("r2"));
    await records.write(id("e1"), ended("e1", t0 - 2000));
    await records.write(id("e2"), ended("e2", t0 - 1000));
    await records.prune();
    expect((await records.list()).map((t) => t.taskId).sort()).toEqual(["r1", "r2"]);
  });

  it("in memory: ended records past the retention go, and the oldest ended first when full", async () => {
    clock.ms = t0;
    const records = createIssuedTaskRecords({ maxTasks: 3, endedRetentionMs: DAY, now: clock.now });
    await records.write(id("r1"), record("r1"));
    await records.write(id("e1"), ended("e1", t0 - 1000));
    await records.write(id("r2"), record("r2"));
    await records.write(id("r3"), record("r3"));
    // Full: the ended one goes, not the oldest running one.
    expect((await records.list()).map((t) => t.taskId)).toEqual(["r1", "r2", "r3"]);
    // No other ended one: the one just written stays, the oldest running one goes (memory
    // stays bounded).
    await records.write(id("e2"), ended("e2", t0));
    expect((await records.list()).map((t) => t.taskId)).toEqual(["r2", "r3", "e2"]);
    clock.ms = t0 + DAY;
    await records.write(id("r4"), record("r4"));
    expect((await records.list()).map((t) => t.taskId)).toEqual(["r2", "r3", "r4"]);
  });

  it("refuses a bad maxTasks or endedRetentionMs, naming the option", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, "10"]) {
      expect(() => createIssuedTaskRecords({ maxTasks: bad as number })).toThrow(
        /servedTasks\.maxTasks/,
      );
      expect(() => createIssuedTaskRecords({ endedRetentionMs: bad as number })).toThrow(
        /servedTasks\.endedRetentionMs/,
      );
    }
    let error: unknown;
    try {
      createIssuedTaskRecords({ endedRetentionMs: 0 });
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isInstance(error)).toBe(true);
  });
});
