import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tryLock, waitForLock } from "./file-lock.js";
import { HOST, PID_NAMESPACE } from "./is-process-alive.js";

describe("tryLock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trainable-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is exclusive, records pid/host/token, and is released", async () => {
    const path = join(dir, "x.lock");
    const lock = await tryLock(path, { staleMs: 10_000 });
    expect(lock).toBeDefined();
    const info = JSON.parse(await readFile(path, "utf8"));
    expect(info).toMatchObject({ pid: process.pid, host: HOST });
    expect(await tryLock(path, { staleMs: 10_000 })).toBeUndefined();
    await lock?.release();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    const again = await tryLock(path, { staleMs: 10_000 });
    expect(again).toBeDefined();
    await again?.release();
  });

  it("breaks a lock of a dead pid on this host", async () => {
    const path = join(dir, "x.lock");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(
      path,
      JSON.stringify({ pid: dead, host: HOST, token: "old", createdAt: Date.now() }),
    );
    const reasons: string[] = [];
    const lock = await tryLock(path, {
      staleMs: 600_000,
      onBreak: (_i, reason) => reasons.push(reason),
    });
    expect(lock).toBeDefined();
    expect(reasons[0]).toMatch(/gone/);
    await lock?.release();
  });

  it("keeps a fresh lock of a pid in another pid namespace of this host (a container sharing the folder): that pid cannot be checked from here", async () => {
    const path = join(dir, "x.lock");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const lockOf = (pidNamespace: string) =>
      JSON.stringify({ pid: dead, host: HOST, pidNamespace, token: "t", createdAt: Date.now() });
    await writeFile(path, lockOf(`${PID_NAMESPACE}0`));
    expect(await tryLock(path, { staleMs: 600_000 })).toBeUndefined();
    // Recorded in this namespace: the dead pid is checked, the lock broken.
    await writeFile(path, lockOf(PID_NAMESPACE));
    const lock = await tryLock(path, { staleMs: 600_000 });
    expect(lock).toBeDefined();
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({
      pid: process.pid,
      host: HOST,
      ...(PID_NAMESPACE ? { pidNamespace: PID_NAMESPACE } : {}),
    });
    await lock?.release();
  });

  it("breaks a lock not refreshed for staleMs, keeps a fresh one of another host", async () => {
    const path = join(dir, "x.lock");
    await writeFile(path, JSON.stringify({ pid: 1, host: "other-host", token: "t", createdAt: 0 }));
    expect(await tryLock(path, { staleMs: 60_000 })).toBeUndefined();
    const old = new Date(Date.now() - 120_000);
    await utimes(path, old, old);
    const lock = await tryLock(path, { staleMs: 60_000 });
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it("a live holder refreshes its lock, so it never looks stale", async () => {
    const path = join(dir, "x.lock");
    const lock = await tryLock(path, { staleMs: 200 });
    const before = (await stat(path)).mtimeMs;
    await new Promise((r) => setTimeout(r, 400));
    expect((await stat(path)).mtimeMs).toBeGreaterThan(before);
    expect(await tryLock(path, { staleMs: 200 })).toBeUndefined();
    await lock?.release();
  });

  it("does not remove a lock that is no longer its own", async () => {
    const path = join(dir, "x.lock");
    const lock = await tryLock(path, { staleMs: 10_000 });
    await writeFile(
      path,
      JSON.stringify({ pid: process.pid, host: HOST, token: "someone-else", createdAt: 0 }),
    );
    await lock?.release();
    expect(JSON.parse(await readFile(path, "utf8")).token).toBe("someone-else");
  });

  it("breaks an empty lock (a holder that died before writing it) after 2 s, not before", async () => {
    const path = join(dir, "x.lock");
    await writeFile(path, "");
    expect(await tryLock(path, { staleMs: 600_000 })).toBeUndefined();
    const old = new Date(Date.now() - 5_000);
    await utimes(path, old, old);
    const lock = await tryLock(path, { staleMs: 600_000 });
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it("puts back a lock that was replaced between judging and breaking", async () => {
    const path = join(dir, "x.lock");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(path, JSON.stringify({ pid: dead, host: HOST, token: "dead", createdAt: 0 }));
    const reasons: string[] = [];
    // onBreak runs after the break: a lock taken by the winner stays.
    const lock = await tryLock(path, { staleMs: 600_000, onBreak: (_i, r) => reasons.push(r) });
    expect(lock).toBeDefined();
    expect(reasons).toHaveLength(1);
    expect(await tryLock(path, { staleMs: 600_000 })).toBeUndefined();
    await lock?.release();
  });
});

describe("waitForLock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "trainable-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("waits until the holder releases, then holds the lock", async () => {
    const path = join(dir, "x.lock");
    const first = await tryLock(path, { staleMs: 60_000 });
    let released = false;
    setTimeout(() => {
      released = true;
      void first?.release();
    }, 100);
    const second = await waitForLock(path, { staleMs: 60_000, timeoutMs: 10_000 });
    expect(released).toBe(true);
    expect(second).toBeDefined();
    await second?.release();
  });

  it("gives up with undefined after timeoutMs while a live process holds it", async () => {
    const path = join(dir, "x.lock");
    const held = await tryLock(path, { staleMs: 60_000 });
    expect(await waitForLock(path, { staleMs: 60_000, timeoutMs: 50 })).toBeUndefined();
    await held?.release();
  });

  it("rejects with the signal's reason when aborted while waiting", async () => {
    const path = join(dir, "x.lock");
    const held = await tryLock(path, { staleMs: 60_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop waiting")), 50);
    await expect(
      waitForLock(path, { staleMs: 60_000, timeoutMs: 60_000, signal: controller.signal }),
    ).rejects.toThrow("stop waiting");
    await held?.release();
  });
});
