import type { CheckpointRef } from "@trainable/core";
import { describe, expect, it } from "vitest";
import type { DiskLease } from "../disk/disk-cache.js";
import { HandleTable } from "./handle-table.js";
import { emptyStats } from "./model-cache-stats.js";
import { ModelMemory, newEntry } from "./model-memory.js";

function setup(
  options: { maxEntries?: number; maxBytes?: number; disposeUnleasedAfterMs?: number } = {},
) {
  const disposed: string[] = [];
  const diskReleased: string[] = [];
  const logs: string[] = [];
  const counters = emptyStats();
  const memory = new ModelMemory({
    maxEntries: options.maxEntries ?? 10,
    maxBytes: options.maxBytes,
    disposeUnleasedAfterMs: options.disposeUnleasedAfterMs ?? Number.POSITIVE_INFINITY,
    logger: { debug: (m) => logs.push(m), info: (m) => logs.push(m), warn: (m) => logs.push(m) },
    counters,
    warn: (what) => (error) => logs.push(`${what}: ${String(error)}`),
  });
  const entry = (key: string, size = 1) => {
    const lease: DiskLease = {
      dir: `/d/${key}`,
      ref: {} as CheckpointRef,
      release: () => diskReleased.push(key),
    };
    return newEntry(key, { model: { dispose: () => disposed.push(key) }, diskLease: lease, size });
  };
  return { memory, entry, disposed, diskReleased, counters, logs };
}

describe("ModelMemory", () => {
  it("disposes a model once it is out of memory and its last lease is released, not before", () => {
    const { memory, entry, disposed, diskReleased, counters } = setup();
    const e = entry("w/i@sha256:a#k");
    expect(memory.keep(e)).toBe(true);
    e.leases++; // a second holder
    memory.release(e); // the load's hold goes
    memory.dropPrefix("w/i@sha256:a#", "test");
    expect(disposed).toEqual([]); // still leased
    memory.release(e);
    expect(disposed).toEqual(["w/i@sha256:a#k"]);
    expect(diskReleased).toEqual(["w/i@sha256:a#k"]);
    expect(counters.disposals).toBe(1);
    memory.release(e); // a stray extra release changes nothing
    expect(disposed).toHaveLength(1);
  });

  it("evicts the least recently used model over maxEntries, counting it", () => {
    const { memory, entry, disposed, counters } = setup({ maxEntries: 2 });
    for (const key of ["a", "b", "c"]) {
      const e = entry(key);
      memory.keep(e);
      memory.release(e);
    }
    expect(memory.has("a")).toBe(false);
    expect(disposed).toEqual(["a"]);
    expect(counters.evictions).toBe(1);
  });

  it("does not keep a model larger than maxBytes", () => {
    const { memory, entry } = setup({ maxBytes: 100 });
    const big = entry("big", 101);
    expect(memory.keep(big)).toBe(false);
    expect(big.cached).toBe(false);
    expect(memory.has("big")).toBe(false);
  });

  it("never disposes a model handed out without a lease (unless disposeUnleasedAfterMs says so)", () => {
    const { memory, entry, disposed, diskReleased } = setup();
    const e = entry("u");
    memory.keep(e);
    e.unleased = true;
    e.unleasedAt = Date.now();
    memory.release(e);
    memory.clear();
    expect(disposed).toEqual([]);
    expect(diskReleased).toEqual(["u"]);
    expect(e.done).toBe(true);
  });

  it("with a HandleTable: a version no handle points at any more leaves memory", () => {
    const { memory, entry, disposed } = setup();
    let clock = 0;
    const table = new HandleTable({ workspace: "w", memory, logger: {}, now: () => clock });
    const ref = (digest: string) => ({ digest, handle: "h" }) as CheckpointRef;
    table.set("i", "h", { ref: ref("sha256:a"), verifiedAt: clock, trusted: true });
    table.set("i", "other", { ref: ref("sha256:a"), verifiedAt: clock, trusted: true });
    const e = entry(`${table.versionPrefix("i", "sha256:a")}k`);
    memory.keep(e);
    memory.release(e);
    clock = 1;
    table.set("i", "h", { ref: ref("sha256:b"), verifiedAt: clock, trusted: true });
    expect(disposed).toEqual([]); // "other" still points at a
    table.forget("i", "other");
    expect(disposed).toEqual([e.key]);
    expect(table.referenced("i", "sha256:b")).toBe(true);
    expect(table.referenced("i", "sha256:a")).toBe(false);
  });
});
