import type { CheckpointRef } from "@trainable/core";
import { describe, expect, it } from "vitest";
import { HandleTable } from "./handle-table.js";
import { emptyStats } from "./model-cache-stats.js";
import { ModelMemory } from "./model-memory.js";

function setup() {
  const memory = new ModelMemory({
    maxEntries: 10,
    maxBytes: undefined,
    disposeUnleasedAfterMs: Number.POSITIVE_INFINITY,
    logger: {},
    counters: emptyStats(),
    warn: () => () => {},
  });
  return { memory };
}

describe("HandleTable", () => {
  it("distrusts one handle or all of an instance, bumping the epoch", () => {
    const { memory } = setup();
    const table = new HandleTable({ workspace: "w", memory, logger: {}, now: () => 0 });
    const known = () => ({
      ref: { digest: "sha256:a" } as CheckpointRef,
      verifiedAt: 0,
      trusted: true,
    });
    table.set("i", "a", known());
    table.set("i", "b", known());
    table.set("j", "a", known());
    const epoch = table.epoch;
    table.distrust("i", "a");
    expect([table.get("i", "a")?.trusted, table.get("i", "b")?.trusted]).toEqual([false, true]);
    table.distrust("i");
    expect([table.get("i", "b")?.trusted, table.get("j", "a")?.trusted]).toEqual([false, true]);
    expect(table.epoch).toBe(epoch + 2);
  });

  it("warns once per failure streak while serving stale, and says when the store answers again", () => {
    const { memory } = setup();
    const warnings: string[] = [];
    const infos: string[] = [];
    const table = new HandleTable({
      workspace: "w",
      memory,
      logger: { warn: (m) => warnings.push(m), info: (m) => infos.push(m) },
      now: () => 20_000,
    });
    const known = { ref: { digest: "sha256:a" } as CheckpointRef, verifiedAt: 0, trusted: true };
    table.failed("i", "h", new Error("down"), { startedAt: 10_000, retryMs: 1000 });
    expect(table.failures.get("i/h")).toMatchObject({ since: 10_000, retryAt: 21_000 });
    table.servedStale("i", "h", known);
    table.servedStale("i", "h", known);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /sha256:a of handle "h" of w\/i \(verified 20 s ago\).*Error: down/,
    );
    table.endStreak("i", "h");
    expect(infos).toEqual([
      '[cache] The store answers again for handle "h" of w/i: no longer serving a stale version',
    ]);
    expect(table.failures.size).toBe(0);
  });
});
