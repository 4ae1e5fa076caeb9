import { describe, expect, it } from "vitest";
import type { TrainRequest } from "../training/train-request.js";
import type { HostedEvent, HostedTask } from "./create-task-host.js";
import { emit, followEvents, type HostedEntry, snapshot } from "./hosted-entry.js";

const at = new Date("2026-01-01T00:00:00.000Z");
const options = { now: () => at, maxEvents: 3 };

function newEntry(): HostedEntry {
  return {
    task: {
      taskId: "t1",
      instanceId: "i1",
      state: "running",
      startedAt: "",
      updatedAt: "",
      lastEventId: 0,
    } as HostedTask,
    request: {} as TrainRequest,
    events: [],
    controller: new AbortController(),
    done: Promise.resolve(),
    listeners: new Set(),
  };
}

const update = (n: number) => ({ type: "update" as const, update: { statusMessage: `u${n}` } });

async function collect(events: AsyncGenerator<HostedEvent>): Promise<number[]> {
  const ids: number[] = [];
  for await (const event of events) ids.push(event.id);
  return ids;
}

describe("emit", () => {
  it("numbers events, keeps the last maxEvents and wakes followers", () => {
    const entry = newEntry();
    let woken = 0;
    entry.listeners.add(() => woken++);
    for (let n = 1; n <= 5; n++) emit(entry, update(n), options);
    expect(entry.events.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(entry.task.lastEventId).toBe(5);
    expect(entry.task.updatedAt).toBe(at.toISOString());
    expect(woken).toBe(5);
  });
});

describe("snapshot", () => {
  it("is a copy", () => {
    const entry = newEntry();
    const copy = snapshot(entry);
    copy.state = "failed";
    expect(entry.task.state).toBe("running");
  });
});

describe("followEvents", () => {
  it("replays kept events after afterId, then live ones, up to finished", async () => {
    const entry = newEntry();
    const roomy = { ...options, maxEvents: 10 };
    emit(entry, update(1), roomy);
    emit(entry, update(2), roomy);
    const following = collect(followEvents(entry, 1));
    emit(entry, update(3), roomy);
    emit(entry, { type: "finished", task: snapshot(entry) }, roomy);
    expect(await following).toEqual([2, 3, 4]);
  });

  it("starts from the oldest kept event when older ones were dropped", async () => {
    const entry = newEntry();
    for (let n = 1; n <= 4; n++) emit(entry, update(n), options);
    emit(entry, { type: "finished", task: snapshot(entry) }, options);
    expect(await collect(followEvents(entry, 0))).toEqual([3, 4, 5]);
  });

  it("skips no kept event when events arrive (and old ones are dropped) while one is read", async () => {
    const entry = newEntry();
    for (let n = 1; n <= 3; n++) emit(entry, update(n), options);
    const ids: number[] = [];
    for await (const event of followEvents(entry, 0)) {
      ids.push(event.id);
      // While the follower handles event 1, event 4 arrives and event 1 is dropped: 2 and 3
      // are still kept and must come next.
      if (event.id === 1) emit(entry, update(4), options);
      if (event.id === 4) emit(entry, { type: "finished", task: snapshot(entry) }, options);
    }
    expect(ids).toEqual([1, 2, 3, 4, 5]);
  });

  it("stops when the signal aborts", async () => {
    const entry = newEntry();
    const stop = new AbortController();
    const following = collect(followEvents(entry, 0, stop.signal));
    emit(entry, update(1), options);
    await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    expect(await following).toEqual([1]);
    expect(entry.listeners.size).toBe(0);
  });
});
