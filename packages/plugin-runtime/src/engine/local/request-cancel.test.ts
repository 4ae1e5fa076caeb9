import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Id, NotFoundError, ValidationError } from "@trainable/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TrainResponse } from "../../training/create-training-coordinator.js";
import { isTaskLock, lockTask } from "../task-lock.js";
import { instance, recordTask, useLocalEngineEnv } from "./__fixtures__/local-engine-env.js";
import { cancelRequestPath, writeCancelRequest } from "./cancel-request.js";
import { launchTask } from "./launch-task.js";
import type { LocalEngineState } from "./local-engine-state.js";
import { resumeTasks } from "./local-resume.js";
import { CANCEL_REQUESTED, requestLocalCancel } from "./request-cancel.js";

/** While set, writing a `task.json` fails (a full disk). */
const writes = vi.hoisted(() => ({ failTaskFile: false }));
vi.mock("../../util/write-json-atomic.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../util/write-json-atomic.js")>();
  return {
    writeJsonAtomic: async (file: string, value: unknown) => {
      if (writes.failTaskFile && file.endsWith("task.json")) {
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      }
      return original.writeJsonAtomic(file, value);
    },
  };
});
afterEach(() => {
  writes.failTaskFile = false;
});

const { trains, cancels, makeState, fakeClient } = useLocalEngineEnv("request-cancel");

const takeLock = async (state: LocalEngineState) => {
  const lock = await lockTask(state.taskLog.taskDir("t1"));
  if (!isTaskLock(lock)) throw new Error("lock held");
  return lock;
};

const onDisk = async (state: LocalEngineState) => state.taskLog.readTask("t1");

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error,
  );

describe("requestLocalCancel", () => {
  it("ends a task no live process drives as cancelled, and releases its lock", async () => {
    const state = await makeState();
    await recordTask(state, { state: "running", phase: "training" });
    const answer = await requestLocalCancel({ dataDir: state.dataDir, taskId: "t1" });
    expect(answer.requested).toBe(false);
    expect(answer.task).toMatchObject({
      state: "cancelled",
      phase: "finished",
      error: { code: "CANCELLED", message: CANCEL_REQUESTED },
    });
    expect(await onDisk(state)).toMatchObject({ state: "cancelled" });
    const lock = await takeLock(state);
    await lock.release();
  });

  it("leaves a task a live process drives to that driver, which cancels it on the request", async () => {
    const state = await makeState();
    const task = await recordTask(state);
    const client = fakeClient(() => new Promise<TrainResponse>(() => {}));
    const done = launchTask(state, { task, client, instance, lock: await takeLock(state) });
    while (trains.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const answer = await requestLocalCancel({ dataDir: state.dataDir, taskId: "t1" });
    expect(answer).toMatchObject({ requested: true, task: { state: "running" } });
    const final = await done;
    expect(final).toMatchObject({
      state: "cancelled",
      error: { code: "CANCELLED", message: CANCEL_REQUESTED },
    });
    // The driver's own cancel path: the plugin was told to stop.
    expect(cancels).toHaveLength(1);
  });

  it("without the plugin, leaves a running external job requested: the engine resuming it stops it", async () => {
    const state = await makeState();
    const remoteStatus = { taskId: "t1", state: "running" as const, remoteStatusInput: { job: 7 } };
    await recordTask(state, { state: "running", phase: "polling", remoteStatus });
    const answer = await requestLocalCancel({ dataDir: state.dataDir, taskId: "t1" });
    expect(answer).toMatchObject({ requested: true, task: { state: "running" } });
    expect(existsSync(cancelRequestPath(state.taskLog.taskDir("t1")))).toBe(true);
    // An engine with the plugin resumes it: its watcher honours the request.
    const resumer = await makeState();
    resumer.plugins.set(
      "plug",
      fakeClient(() => new Promise<TrainResponse>(() => {})),
    );
    expect((await resumeTasks(resumer)).resumed).toEqual(["t1"]);
    const final = await resumer.active.get("t1")?.done;
    expect(final).toMatchObject({ state: "cancelled", error: { message: CANCEL_REQUESTED } });
    expect(cancels.map((c) => c.status)).toEqual([remoteStatus]);
  });

  it("a task resumed with a cancel request already waiting ends cancelled, its plugin never called", async () => {
    const state = await makeState();
    await recordTask(state, { state: "running", phase: "training" });
    await writeCancelRequest(state.taskLog.taskDir("t1"), new Date());
    const resumer = await makeState();
    resumer.plugins.set(
      "plug",
      fakeClient(() => new Promise<TrainResponse>(() => {})),
    );
    expect((await resumeTasks(resumer)).resumed).toEqual(["t1"]);
    const final = await resumer.active.get("t1")?.done;
    expect(final).toMatchObject({ state: "cancelled", error: { message: CANCEL_REQUESTED } });
    expect(trains).toEqual([]);
  });

  it("throws when the cancelled task cannot be recorded, leaving it requested for a resume", async () => {
    const state = await makeState();
    await recordTask(state, { state: "running", phase: "training" });
    writes.failTaskFile = true;
    const errors: string[] = [];
    const failed = await refusal(
      requestLocalCancel({
        dataDir: state.dataDir,
        taskId: "t1",
        logger: { warn: () => {}, error: (message) => void errors.push(message) },
      }),
    );
    expect(String(failed)).toContain("ENOSPC");
    expect(errors.join("\n")).toContain("Could not record task t1");
    writes.failTaskFile = false;
    expect(await onDisk(state)).toMatchObject({ state: "running" });
    const lock = await takeLock(state); // released
    await lock.release();
    // The request stays: the engine that resumes the task ends it cancelled, plugin uncalled.
    const resumer = await makeState();
    resumer.plugins.set(
      "plug",
      fakeClient(() => new Promise<TrainResponse>(() => {})),
    );
    expect((await resumeTasks(resumer)).resumed).toEqual(["t1"]);
    expect(await resumer.active.get("t1")?.done).toMatchObject({ state: "cancelled" });
    expect(trains).toEqual([]);
  });

  it("answers a finished task as it is, writing no request", async () => {
    const state = await makeState();
    await recordTask(state, { state: "succeeded" });
    const answer = await requestLocalCancel({ dataDir: state.dataDir, taskId: "t1" });
    expect(answer).toMatchObject({ requested: false, task: { state: "succeeded" } });
    expect(existsSync(cancelRequestPath(state.taskLog.taskDir("t1")))).toBe(false);
  });

  it("refuses an unknown task, a bad task id or dataDir, creating nothing", async () => {
    const state = await makeState();
    const field = async (promise: Promise<unknown>) => {
      const error = await refusal(promise);
      return ValidationError.isInstance(error) ? error.issues[0]?.path : error;
    };
    expect(await field(requestLocalCancel({ dataDir: state.dataDir, taskId: "../x" }))).toBe(
      "taskId",
    );
    expect(await field(requestLocalCancel({ dataDir: "", taskId: "t1" }))).toBe("dataDir");
    expect(await field(requestLocalCancel(undefined as never))).toBe("options");
    const unknown = await refusal(requestLocalCancel({ dataDir: state.dataDir, taskId: "t9" }));
    expect(NotFoundError.isInstance(unknown)).toBe(true);
    const elsewhere = join(state.dataDir, "nowhere");
    const missing = await refusal(requestLocalCancel({ dataDir: elsewhere, taskId: "t1" as Id }));
    expect(NotFoundError.isInstance(missing)).toBe(true);
    expect(existsSync(elsewhere)).toBe(false);
  });
});
