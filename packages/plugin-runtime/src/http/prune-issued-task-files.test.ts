import { mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { IssuedTask } from "./issued-tasks.js";
import { pruneIssuedTaskFiles, removeIfUnchanged } from "./prune-issued-task-files.js";

/** `link` fails with this code while set: a filesystem without hard links. */
const linkFault = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    link: async (from: string, to: string) => {
      if (linkFault.code === undefined) return fs.link(from, to);
      throw Object.assign(new Error(`${linkFault.code}: link`), { code: linkFault.code });
    },
  };
});

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
  linkFault.code = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function put(task: IssuedTask): Promise<void> {
  await writeFile(join(dir, `${task.taskId}.json`), JSON.stringify({ version: 1, ...task }));
}
/** Dates a claim as made at `ms` (a prune stamps its claims with its clock). */
const claimAt = (file: string, ms: number) => utimes(file, new Date(ms), new Date(ms));
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

  it("ranks a record whose endedAt is not a date as the oldest ended one", async () => {
    await put(record("e1", t0 - 3 * DAY));
    await put(record("e2", t0 - 2 * DAY));
    await put({ ...record("zz", t0 - 1 * DAY), endedAt: "not a date" });
    await put(record("e3", t0 - 1 * DAY));
    expect((await prune({ maxTasks: 3 })).removed).toEqual(["zz"]);
    expect(await names()).toEqual(["e1.json", "e2.json", "e3.json"]);
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
    await claimAt(claimed, t0 - 1000);
    const fresh = join(dir, "busy.json.4567cdef.pruning");
    await writeFile(fresh, JSON.stringify({ version: 1, ...record("busy") }));
    await claimAt(fresh, t0 - 1000); // a prune in progress (on another server): left alone
    await prune();
    expect(await names()).toEqual(["busy.json.4567cdef.pruning"]);
  });

  it("puts back the live record a prune stopped between its claim and the put-back left in a claim", async () => {
    // The record was written again (a running training) between a prune's scan and its claim;
    // the prune was killed before putting it back.
    await put(record("live"));
    const claim = join(dir, "live.json.89abcdef.pruning");
    await rename(join(dir, "live.json"), claim);
    await claimAt(claim, t0 - 2 * 60_000);
    expect((await prune()).removed).toEqual([]);
    expect(await names()).toEqual(["live.json"]);
    const back = JSON.parse(await readFile(join(dir, "live.json"), "utf8")) as IssuedTask;
    expect(back).toMatchObject({ taskId: "live" });
    expect(back.endedAt).toBeUndefined();
  });

  it("keeps the newer record in place of a left claim, and drops the claim", async () => {
    const claim = join(dir, "t1.json.0a0b0c0d.pruning");
    await writeFile(claim, JSON.stringify({ version: 1, ...record("t1", t0 - 1 * DAY) }));
    await claimAt(claim, t0 - 2 * 60_000);
    await put(record("t1")); // started again under that id since
    await prune();
    expect(await names()).toEqual(["t1.json"]);
    const kept = JSON.parse(await readFile(join(dir, "t1.json"), "utf8")) as IssuedTask;
    expect(kept.endedAt).toBeUndefined();
  });

  it("puts back a left claim on a filesystem without hard links", async () => {
    await put(record("live"));
    const claim = join(dir, "live.json.89abcdef.pruning");
    await rename(join(dir, "live.json"), claim);
    await claimAt(claim, t0 - 2 * 60_000);
    linkFault.code = "EPERM";
    await prune();
    expect(await names()).toEqual(["live.json"]);
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

  it("puts the record back without hard links (EPERM, ENOTSUP, EXDEV): renamed back", async () => {
    for (const code of ["EPERM", "ENOTSUP", "EXDEV"]) {
      linkFault.code = code;
      const seen = record("t1", t0 - 8 * DAY);
      await put(record("t1")); // written again since the scan
      expect(await removeIfUnchanged(dir, seen)).toBe(false);
      expect(await names()).toEqual(["t1.json"]);
      const back = JSON.parse(await readFile(join(dir, "t1.json"), "utf8")) as IssuedTask;
      expect(back.endedAt).toBeUndefined();
    }
  });

  it("is false for a record already gone", async () => {
    expect(await removeIfUnchanged(dir, record("t1", t0))).toBe(false);
  });
});
