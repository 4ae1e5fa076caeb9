import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainableModel } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import type { TrainCallOptions } from "./create-training-coordinator.js";
import { createLiveTrainings, type LiveTraining } from "./live-trainings.js";

let root: string;
let loaded: string[];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "live-"));
  loaded = [];
});
afterEach(() => rm(root, { recursive: true, force: true }));

const service = {
  createModel: () =>
    ({
      loadFromFolder: async (dir: string) => void loaded.push(dir),
    }) as unknown as TrainableModel<unknown>,
} as unknown as AnyTrainablePluginService;
const call = { instance: { id: "inst", config: {} } } as unknown as TrainCallOptions<unknown>;
const entry = (): LiveTraining => ({
  model: {} as TrainableModel<unknown>,
  controllers: new Set(),
});

describe("createLiveTrainings", () => {
  it("keeps at most maxLive models, dropping the oldest", () => {
    const live = createLiveTrainings({ service, maxLive: 2, scratchRoot: root });
    live.remember("a", entry());
    live.remember("b", entry());
    live.remember("a", entry()); // used again: now the newest
    live.remember("c", entry());
    expect([live.has("a"), live.has("b"), live.has("c")]).toEqual([true, false, true]);
  });

  it("rebuilds a model from its kept state under stateRoot, with its status", async () => {
    const live = createLiveTrainings({ service, maxLive: 10, scratchRoot: root, stateRoot: root });
    await mkdir(join(root, "t1", "model"), { recursive: true });
    await writeFile(join(root, "t1", "status.json"), JSON.stringify({ state: "running" }));
    const { entry: rebuilt, status } = await live.modelFor("t1", call);
    expect(loaded).toEqual([join(root, "t1", "model")]);
    expect(status).toEqual({ state: "running" });
    expect(live.get("t1")).toBe(rebuilt);
    expect((await live.modelFor("t1", call)).entry).toBe(rebuilt);
  });

  it("a call's stateDir wins over stateRoot; cleanup forgets the model and its folders", async () => {
    const live = createLiveTrainings({ service, maxLive: 10, scratchRoot: root, stateRoot: root });
    const own = { ...call, stateDir: join(root, "own") };
    expect(live.stateDirOf("t1", own)).toBe(join(root, "own"));
    expect(live.stateDirOf("t1", call)).toBe(join(root, "t1"));
    await mkdir(join(root, "own", "model"), { recursive: true });
    await mkdir(live.scratchDirOf("t1"), { recursive: true });
    expect(await live.keptState("t1", own)).toBeDefined();
    live.remember("t1", entry());
    await live.cleanup("t1", own);
    expect(live.has("t1")).toBe(false);
    await expect(stat(join(root, "own"))).rejects.toThrow();
    await expect(stat(live.scratchDirOf("t1"))).rejects.toThrow();
  });
});
