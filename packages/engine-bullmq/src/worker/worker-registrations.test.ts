import type { Id } from "@trainable/core";
import type { EngineInstance, PluginClient } from "@trainable/plugin-runtime";
import { describe, expect, it } from "vitest";
import { createWorkerRegistrations } from "./worker-registrations.js";

const instance = (config: unknown): EngineInstance => ({
  schemaVersion: 1,
  id: "inst" as Id,
  plugin: "plug" as Id,
  config,
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
});

function countingClient(failFirst = false) {
  const told: unknown[] = [];
  let fail = failFirst;
  const client = {
    async registerInstance(i: { config: unknown }) {
      told.push(i.config);
      if (fail) {
        fail = false;
        throw new Error("refused");
      }
      return i;
    },
  } as unknown as PluginClient;
  return { client, told };
}

describe("createWorkerRegistrations", () => {
  it("tells the plugin an instance once, and again when its snapshot differs", async () => {
    const ensure = createWorkerRegistrations();
    const { client, told } = countingClient();
    await ensure(client, instance({ a: 1, b: 2 }));
    await ensure(client, instance({ b: 2, a: 1 })); // the same config, keys in another order
    expect(told).toEqual([{ a: 1, b: 2 }]);
    await ensure(client, instance({ a: 2 }));
    expect(told).toEqual([{ a: 1, b: 2 }, { a: 2 }]);
  });

  it("forgets a refused registration, so the next job tries again", async () => {
    const ensure = createWorkerRegistrations();
    const { client, told } = countingClient(true);
    await expect(ensure(client, instance({ a: 1 }))).rejects.toThrow("refused");
    await ensure(client, instance({ a: 1 }));
    expect(told).toHaveLength(2);
  });
});
