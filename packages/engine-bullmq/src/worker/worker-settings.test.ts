import { join } from "node:path";
import { type CheckpointStore, ValidationError } from "@trainable/core";
import type { PluginClient } from "@trainable/plugin-runtime";
import { describe, expect, it } from "vitest";
import type { BullmqWorkerOptions } from "../bullmq-worker-options.js";
import { workerSettings } from "./worker-settings.js";

/** Enough of a store for the option checks (they look at its methods only). */
const store = {
  workspace: "ws",
  save: async () => ({}),
  resolve: async () => ({}),
  fetch: async () => ({}),
  withCheckpoint: async () => ({}),
} as unknown as CheckpointStore;
const client = {
  kind: "http",
  name: "c",
  registerInstance: async () => ({}),
} as unknown as PluginClient;
const base = {
  connection: "redis://127.0.0.1:1",
  store,
  dataDir: "rel/dir",
  plugins: { tagger: client },
} as BullmqWorkerOptions;

describe("workerSettings", () => {
  it("fills the defaults: lock 30 s, record retry = lock, queue keys, absolute dataDir", () => {
    const settings = workerSettings(base);
    expect(settings.lockDurationMs).toBe(30_000);
    expect(settings.recordRetryMs).toBe(30_000);
    expect(settings.dataDir).toBe(join(process.cwd(), "rel/dir"));
    expect(settings.keys.queueName).toBe("trainings");
    expect(settings.keys.prefix).toBe("trainable");
    expect(settings.plugins.get("tagger")).toBe(client);
    expect(workerSettings({ ...base, lockDurationMs: 5_000 }).recordRetryMs).toBe(5_000);
  });

  it("refuses a missing dataDir or plugins, and a bad recordRetryMs, naming the field", () => {
    expect(() => workerSettings({ ...base, dataDir: "" })).toThrow(
      "[engine-bullmq] Invalid dataDir: is required: the worker's local scratch folder (a path)",
    );
    expect(() => workerSettings({ ...base, plugins: null as never })).toThrow(ValidationError);
    expect(() => workerSettings({ ...base, recordRetryMs: -1 })).toThrow(
      "[engine-bullmq] Invalid recordRetryMs: must be a number of milliseconds, 0 or more, got -1",
    );
  });
});
