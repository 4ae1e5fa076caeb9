import { EventEmitter } from "node:events";
import { NotFoundError } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { TaskEvent } from "./task-event.js";
import type { TrainingTask } from "./training-task.js";
import { taskSubscriptions, watchTask } from "./watch-task.js";

const task = (state: TrainingTask["state"]) => ({ taskId: "t1", state }) as unknown as TrainingTask;

/** An engine whose events the test emits, and whose wait() it settles. */
function fakeEngine(current: TrainingTask | undefined, asPromise = false) {
  const emitter = new EventEmitter();
  let settle: (task: TrainingTask) => void = () => {};
  const waited = new Promise<TrainingTask>((resolve) => {
    settle = resolve;
  });
  return {
    emit: (event: TaskEvent) => emitter.emit("task", event),
    settle: (final: TrainingTask) => settle(final),
    engine: {
      on: (_: "task", listener: (event: TaskEvent) => void) => {
        emitter.on("task", listener);
        return () => emitter.off("task", listener);
      },
      getTask: () => (asPromise ? Promise.resolve(current) : current),
      wait: () => waited,
    },
    listeners: () => emitter.listenerCount("task"),
  };
}

describe("watchTask", () => {
  it("yields a snapshot, then the task's events until finished, and unsubscribes", async () => {
    const fake = fakeEngine(task("running"));
    const seen: string[] = [];
    const watching = (async () => {
      for await (const event of watchTask({
        engine: fake.engine,
        taskId: "t1",
        component: "runtime",
      })) {
        seen.push(`${event.type}:${event.taskId}`);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 5));
    fake.emit({ type: "status", taskId: "other", task: task("running") });
    fake.emit({ type: "status", taskId: "t1", task: task("running") });
    fake.emit({ type: "finished", taskId: "t1", task: task("succeeded") });
    await watching;
    expect(seen).toEqual(["snapshot:t1", "status:t1", "finished:t1"]);
    expect(fake.listeners()).toBe(0);
  });

  it("ends after the snapshot of a final task", async () => {
    const fake = fakeEngine(task("failed"), true);
    const events = [];
    for await (const event of watchTask({ engine: fake.engine, taskId: "t1", component: "x" })) {
      events.push(event.type);
    }
    expect(events).toEqual(["snapshot"]);
  });

  it("refuses an unknown task with the component's prefix", async () => {
    const fake = fakeEngine(undefined);
    const iterator = watchTask({ engine: fake.engine, taskId: "nope", component: "engine-bullmq" });
    await expect(iterator.next()).rejects.toThrow(NotFoundError);
    await expect(
      watchTask({ engine: fake.engine, taskId: "nope", component: "engine-bullmq" }).next(),
    ).rejects.toThrow('[engine-bullmq] Unknown task "nope"');
  });

  it("with endOnWait, ends with the task wait() answers when no finished event comes", async () => {
    const fake = fakeEngine(task("running"), true);
    const events: TaskEvent[] = [];
    const watching = (async () => {
      const options = { engine: fake.engine, taskId: "t1", component: "x", endOnWait: true };
      for await (const event of watchTask(options)) events.push(event);
    })();
    await new Promise((resolve) => setTimeout(resolve, 5));
    fake.settle(task("succeeded"));
    await watching;
    expect(events.map((e) => e.type)).toEqual(["snapshot", "finished"]);
    expect(events[1]?.task.state).toBe("succeeded");
  });

  it("without endOnWait, wait() is not used; an aborted signal ends the watch", async () => {
    const fake = fakeEngine(task("running"));
    const controller = new AbortController();
    const events: string[] = [];
    const watching = (async () => {
      const options = {
        engine: fake.engine,
        taskId: "t1",
        component: "x",
        signal: controller.signal,
      };
      for await (const event of watchTask(options)) events.push(event.type);
    })();
    await new Promise((resolve) => setTimeout(resolve, 5));
    fake.settle(task("succeeded"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await watching;
    expect(events).toEqual(["snapshot"]);
  });
});

describe("taskSubscriptions", () => {
  it("on adds a listener to the emitter and answers its removal; watch goes through engine()", async () => {
    const emitter = new EventEmitter();
    const current = task("running");
    const subscriptions = taskSubscriptions(emitter, {
      engine: () => ({
        on: subscriptions.on,
        getTask: () => current,
        wait: async () => current,
      }),
      component: "test",
    });
    const seen: TaskEvent[] = [];
    const off = subscriptions.on("task", (event) => seen.push(event));
    expect(emitter.listenerCount("task")).toBe(1);
    const watch = subscriptions.watch("t1");
    expect((await watch.next()).value).toEqual({ type: "snapshot", taskId: "t1", task: current });
    const finished: TaskEvent = { type: "finished", taskId: "t1", task: task("succeeded") };
    emitter.emit("task", finished);
    expect((await watch.next()).value).toEqual(finished);
    expect((await watch.next()).done).toBe(true);
    expect(seen).toEqual([finished]);
    off();
    expect(emitter.listenerCount("task")).toBe(0);
  });
});
