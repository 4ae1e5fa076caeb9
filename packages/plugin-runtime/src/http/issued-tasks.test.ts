import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConflictError, NotFoundError, validateId } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { createIssuedTaskTable } from "./issued-tasks.js";

const id = (value: string) => validateId(value, "id");
const t1 = id("t1");
const i1 = id("i1");
let clock = 0;
const now = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++));

describe("createIssuedTaskTable", () => {
  it("start, then a second start of the same task is a conflict", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.start(t1, i1);
    expect((await tasks.get("t1"))?.instanceId).toBe("i1");
    await expect(tasks.start(t1, i1)).rejects.toSatisfy(ConflictError.isInstance);
  });

  it("get validates the id it is given", () => {
    expect(() => createIssuedTaskTable().get("../x")).toThrow(/status\.taskId/);
  });

  it("issue records what was answered; check accepts only that", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.start(t1, i1);
    await tasks.issue({ taskId: t1, instanceId: i1, remoteStatusInput: { job: 1 } });
    const query = { taskId: t1, instanceId: i1, action: "check" as const };
    await tasks.check({ ...query, remoteStatusInput: { job: 1 } });
    await expect(tasks.check({ ...query, remoteStatusInput: { job: 2 } })).rejects.toSatisfy(
      NotFoundError.isInstance,
    );
  });

  it("keeps the last 16 answered statuses", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.start(t1, i1);
    for (let job = 0; job < 20; job++) {
      await tasks.issue({ taskId: t1, instanceId: i1, remoteStatusInput: { job } });
    }
    expect((await tasks.get("t1"))?.issued).toHaveLength(16);
    const query = { taskId: t1, instanceId: i1, action: "check" as const };
    await tasks.check({ ...query, remoteStatusInput: { job: 19 } });
    await expect(tasks.check({ ...query, remoteStatusInput: { job: 0 } })).rejects.toThrow();
  });

  it("issue makes a record only when told to create one", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.issue({ taskId: t1, instanceId: i1, remoteStatusInput: { job: 1 } });
    expect(await tasks.get("t1")).toBeUndefined();
    await tasks.issue({ taskId: t1, instanceId: i1, remoteStatusInput: { job: 1 }, create: true });
    const task = await tasks.get("t1");
    expect(task?.issued).toHaveLength(1);
    expect(task?.createdAt).toBe(task?.updatedAt);
  });

  it("retry continues a known task, starts an unknown one, refuses an unknown status", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.retry(t1, i1, undefined);
    expect(await tasks.get("t1")).toBeDefined();
    await expect(tasks.retry(t1, id("i2"), undefined)).rejects.toSatisfy(NotFoundError.isInstance);
    await expect(tasks.retry(id("t2"), i1, { job: 1 })).rejects.toThrow(/never answered/);
  });

  it("end keeps the task for checks but refuses cancels; forget drops it", async () => {
    const tasks = createIssuedTaskTable({ now });
    await tasks.start(t1, i1);
    await tasks.end(t1);
    const ended = await tasks.get("t1");
    expect(ended?.endedAt).toBe(ended?.updatedAt);
    const query = { taskId: t1, instanceId: i1, remoteStatusInput: undefined };
    await tasks.check({ ...query, action: "check" });
    await expect(tasks.check({ ...query, action: "cancel" })).rejects.toThrow(/is over/);
    await tasks.forget(t1);
    expect(await tasks.list()).toEqual([]);
  });

  it("with a folder, drops an ended task once its retention passes, never a running one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "issued-table-"));
    try {
      let ms = Date.UTC(2026, 0, 1);
      const hour = 60 * 60 * 1000;
      const tasks = createIssuedTaskTable({ dir, endedRetentionMs: hour, now: () => new Date(ms) });
      await tasks.start(t1, i1);
      await tasks.start(id("t2"), i1);
      await tasks.end(id("t2"));
      ms += hour;
      await tasks.start(id("t3"), i1);
      await tasks.idle();
      expect((await tasks.list()).map((t) => t.taskId).sort()).toEqual(["t1", "t3"]);
      const query = { taskId: id("t2"), instanceId: i1, remoteStatusInput: undefined };
      await expect(tasks.check({ ...query, action: "check" })).rejects.toSatisfy(
        NotFoundError.isInstance,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
