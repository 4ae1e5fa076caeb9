import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IssuedTask } from "./issued-tasks.js";
import { pruneIssuedTaskFiles, removeIfUnchanged } from "./prune-issued-task-files.js";

const DAY = 24 * 60 * 60 * 1000;
const t0 = Date.UTC(2026, 0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

/** A record created at `t0 - 30 days`, ended at `endedAt` (ms) unless undefined. */
const record = (taskId: string, endedAt?: number): IssuedTask => ({
  taskId,
  instanceId: "i1",
  issued: [],
  createdAt: iso(t0 - 30 * DAY),
  updatedAt: iso(endedAt ?? t0 - 30 * DAY),
  ...(endedAt === undefined ? {} : { endedAt: iso(endedAt) }),
});

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "issued-prune-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(task: IssuedTask): Promise<void> {
  await writeFile(join(dir, `${task.taskId}.json`), JSON.stringify({ version: 1, ...task }));
}
const names = async () => (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
const prune = (more: { now?: number; maxTasks?: number; intervalMs?: number } = {}) =>
  pruneIssuedTaskFiles({
    dir,
    now: new Date(more.now ?? t0),
    endedRetentionMs: 7 * DAY,
    maxTasks: more.maxTasks ?? 100,
    intervalMs: more.intervalMs ?? 0,
  });

describe("pruneIssuedTaskFiles", () => {
  it("removes the ended records older than the retention, keeps recent ended and running ones", async () => {
    await put(record("old-end", t0 - 8 * DAY));
    await put(record("at-limit", t0 - 7 * DAY));
    await put(record("recent-end", t0 - 6 * DAY));
    await put(record("running")); // started 30 days ago, never ended
    const result = await prune();
    expect(result.removed.sort()).toEqual(["at-limit", "old-end"]);
    expect(await names()).toEqual(["recent-end.json", "running.json"]);
  });

  it("bounds the count by removing the oldest ended records first, never a running one", async () => {
    await put(record("r1"));
    await put(record("r2"));
    await put(record("e3", t0 - 1 * DAY));
    await put(record("e1", t0 - 3 * DAY));
    await put(record("e2", t0 - 2 * DAY));
    expect((await prune({ maxTasks: 3 })).removed).toEqual(["e1", "e2"]);
    expect(await names()).toEqual(["e3.json", "r1.json", "r2.json"]);
    // Only running ones left beyond the bound: they stay.
    expect((await prune({ maxTasks: 1 })).removed).toEqual(["e3"]);
    expect(await names()).toEqual(["r1.json", "r2.json"]);
  });

  it("two servers pruning one folder at once remove each record once, and leave no claim behind", async () => {
    const expired = Array.from({ length: 20 }, (_, i) => `e${i}`);
    for (const taskId of expired) await put(record(taskId, t0 - 8 * DAY));
    await put(record("running"));
    const [a, b] = await Promise.all([prune(), prune()]);
    expect([...a.removed, ...b.removed].sort()).toEqual([...expired].sort());
    expect(await readdir(dir)).toEqual(expect.arrayContaining(["running.json"]));
    expect(await names()).toEqual(["running.json"]);
  });

  it("skips a folder pruned (by any server on it) less than intervalMs ago", async () => {
    await put(record("a", t0 - 8 * DAY));
    expect((await prune({ intervalMs: 60_000 })).removed).toEqual(["a"]);
    await put(record("b", t0 - 8 * DAY));
    const soon = await prune({ now: t0 + 59_000, intervalMs: 60_000 });
    expect(soon).toEqual({ removed: [], skipped: true });
    expect(await names()).toEqual(["b.json"]);
    expect((await prune({ now: t0 + 60_000, intervalMs: 60_000 })).removed).toEqual(["b"]);
  });

  it("leaves unreadable files and files of other names alone, and a missing folder is no error", async () => {
    await writeFile(join(dir, "broken.json"), "not json");
    await writeFile(join(dir, "notes.txt"), "keep");
    await writeFile(
      join(dir, "other.json"),
      JSON.stringify({ version: 1, ...record("x", t0 - 9 * DAY) }),
    );
    expect((await prune()).removed).toEqual([]);
    expect(await names()).toEqual(["broken.json", "notes.txt", "other.json"]);
    const missing = pruneIssuedTaskFiles({
      dir: join(dir, "nope"),
      now: new Date(t0),
      endedRetentionMs: DAY,
      maxTasks: 1,
    });
    expect(await missing).toEqual({ removed: [] });
  });

  it("removes a claim left behind by a pruning server that stopped, when its record is prunable", async () => {
    const claimed = join(dir, "gone.json.0123abcd.pruning");
    await writeFile(claimed, JSON.stringify({ version: 1, ...record("gone", t0 - 8 * DAY) }));
    const kept = join(dir, "back.json.4567cdef.pruning");
    await writeFile(kept, JSON.stringify({ version: 1, ...record("back") }));
    await prune();
    expect(await names()).toEqual(["back.json.4567cdef.pruning"]);
  });
});

describe("removeIfUnchanged", () => {
  it("removes the record it saw", async () => {
    const seen = record("t1", t0 - 8 * DAY);
    await put(seen);
    expect(await removeIfUnchanged(dir, seen)).toBe(true);
    expect(await names()).toEqual([]);
  });

  it("keeps a record written again since it was seen (a new training under that id)", async () => {
    const seen = record("t1", t0 - 8 * DAY);
    await put(record("t1")); // removed and started again meanwhile
    expect(await removeIfUnchanged(dir, seen)).toBe(false);
    expect(await names()).toEqual(["t1.json"]);
    const back = JSON.parse(await readFile(join(dir, "t1.json"), "utf8")) as IssuedTask;
    expect(back.endedAt).toBeUndefined();
  });

  it("is false for a record already gone", async () => {
    expect(await removeIfUnchanged(dir, record("t1", t0))).toBe(false);
  });
});
