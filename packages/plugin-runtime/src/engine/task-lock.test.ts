import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { PID_NAMESPACE } from "@trainable/internal-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isTaskLock, lockTask } from "./task-lock.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "task-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("lockTask", () => {
  it("one holder at a time; the second learns who holds it", async () => {
    const first = await lockTask(dir);
    expect(isTaskLock(first)).toBe(true);
    const second = await lockTask(dir);
    expect(isTaskLock(second)).toBe(false);
    expect(second).toMatchObject({ pid: process.pid, host: hostname() });
    if (isTaskLock(first)) await first.release();
    const third = await lockTask(dir);
    expect(isTaskLock(third)).toBe(true);
  });

  it("many racing to break a dead holder's lock: exactly one wins", async () => {
    // Without a breaker lock, a second breaker removes the lock the first just took (seen
    // within ~50 rounds before the fix).
    const pid = deadPid();
    for (let round = 0; round < 100; round++) {
      await writeFile(
        join(dir, "driver.lock"),
        JSON.stringify({ pid, host: hostname(), since: "2020-01-01T00:00:00Z" }),
      );
      const results = await Promise.all(Array.from({ length: 12 }, () => lockTask(dir)));
      const winners = results.filter(isTaskLock);
      expect(winners).toHaveLength(1);
      const file = JSON.parse(await readFile(join(dir, "driver.lock"), "utf8"));
      expect(file.pid).toBe(process.pid);
      await winners[0]!.release();
    }
  });

  it("a lock held by another host is never broken (its process cannot be checked)", async () => {
    await writeFile(
      join(dir, "driver.lock"),
      JSON.stringify({ pid: deadPid(), host: "elsewhere", since: "2020-01-01T00:00:00Z" }),
    );
    const result = await lockTask(dir);
    expect(isTaskLock(result)).toBe(false);
    expect(result).toMatchObject({ host: "elsewhere" });
  });

  it("a lock of a dead pid in another pid namespace of this host is never broken; in this one it is", async () => {
    const lockOf = (pidNamespace: string) =>
      JSON.stringify({
        pid: deadPid(),
        host: hostname(),
        pidNamespace,
        since: "2020-01-01T00:00:00Z",
      });
    // Another container sharing the data dir: its pid means nothing here.
    await writeFile(join(dir, "driver.lock"), lockOf(`${PID_NAMESPACE}0`));
    const held = await lockTask(dir);
    expect(isTaskLock(held)).toBe(false);
    await writeFile(join(dir, "driver.lock"), lockOf(PID_NAMESPACE));
    const taken = await lockTask(dir);
    expect(isTaskLock(taken)).toBe(true);
    expect(JSON.parse(await readFile(join(dir, "driver.lock"), "utf8"))).toMatchObject({
      pid: process.pid,
      ...(PID_NAMESPACE ? { pidNamespace: PID_NAMESPACE } : {}),
    });
    if (isTaskLock(taken)) await taken.release();
  });
});
