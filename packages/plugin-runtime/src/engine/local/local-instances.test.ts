import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ConflictError } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PluginClient } from "../../client/plugin-client.js";
import type { PluginInstance } from "../../service/plugin-instance.js";
import { createLocalEngineState, type LocalEngineState } from "./local-engine-state.js";
import { createInstance, registerPlugin } from "./local-instances.js";

let root: string;
let state: LocalEngineState;
let told: PluginInstance[];

/** A plugin client that accepts every config and remembers what it was told. */
const client = (): PluginClient =>
  ({
    kind: "http",
    name: "fake",
    async registerInstance(instance: PluginInstance) {
      told.push(instance);
      return instance;
    },
  }) as unknown as PluginClient;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "local-instances-"));
  const store = await createCheckpointStore({
    url: pathToFileURL(join(root, "store")).href,
    workspace: "ws",
  });
  state = await createLocalEngineState({ store, dataDir: join(root, "data") });
  told = [];
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("registerPlugin", () => {
  it("checks the name, and makes the plugin's instances be told again", async () => {
    expect(() => registerPlugin(state, "../bad", client())).toThrow(/plugin name/);
    registerPlugin(state, "plug", client());
    await createInstance(state, { id: "inst", plugin: "plug" });
    expect(state.registrations.has("plug\u0000inst")).toBe(true);
    registerPlugin(state, "plug", client());
    expect(state.registrations.has("plug\u0000inst")).toBe(false);
  });
});

describe("createInstance", () => {
  beforeEach(() => registerPlugin(state, "plug", client()));

  it("writes a new instance, and returns an identical one unchanged", async () => {
    const created = await createInstance(state, { id: "inst", plugin: "plug", config: { a: 1 } });
    expect(created).toMatchObject({ id: "inst", plugin: "plug", config: { a: 1 } });
    const again = await createInstance(state, { id: "inst", plugin: "plug", config: { a: 1 } });
    expect(again).toEqual(created);
    const reloaded = await createLocalEngineState({ store: state.store, dataDir: state.dataDir });
    expect(reloaded.instances.get("inst")).toEqual(created);
  });

  it("refuses a different one without replace, telling the plugin the old one again", async () => {
    await createInstance(state, { id: "inst", plugin: "plug", config: { a: 1 } });
    await expect(
      createInstance(state, { id: "inst", plugin: "plug", config: { a: 2 } }),
    ).rejects.toThrow(ConflictError);
    expect(told.map((t) => t.config)).toEqual([{ a: 1 }, { a: 2 }, { a: 1 }]);
    expect(state.instances.get("inst")?.config).toEqual({ a: 1 });
  });

  it("replaces it with replace: true, keeping its creation time", async () => {
    const first = await createInstance(state, { id: "inst", plugin: "plug", config: { a: 1 } });
    const second = await createInstance(state, {
      id: "inst",
      plugin: "plug",
      config: { a: 2 },
      replace: true,
    });
    expect(second).toMatchObject({ config: { a: 2 }, createdAt: first.createdAt });
  });

  it("refuses an unknown plugin and a closed engine", async () => {
    await expect(createInstance(state, { id: "inst", plugin: "other" })).rejects.toThrow(
      'Unknown plugin "other"',
    );
    state.closed = true;
    await expect(createInstance(state, { id: "inst", plugin: "plug" })).rejects.toThrow("closed");
  });
});
