import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Task, TrainableModel } from "@trainable/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { persistState, readState } from "./training-state.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "training-state-"));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const model = (text: string) =>
  ({
    saveToFolder: (dir: string) => writeFile(join(dir, "weights.txt"), text),
  }) as unknown as TrainableModel<unknown>;
const status: Task = { taskId: "t1", state: "running", remoteStatusInput: { job: 7 } };

describe("persistState / readState", () => {
  it("keeps the model and status as one unit, replacing the last one", async () => {
    const stateDir = join(root, "t1");
    expect(await readState(stateDir)).toBeUndefined();
    await persistState(model("one"), status, stateDir);
    await persistState(model("two"), { ...status, statusMessage: "later" }, stateDir);
    const kept = await readState(stateDir);
    expect(kept?.modelDir).toBe(join(stateDir, "model"));
    expect(await readFile(join(stateDir, "model", "weights.txt"), "utf8")).toBe("two");
    expect(kept?.status).toEqual({ ...status, statusMessage: "later" });
    await expect(stat(`${stateDir}.previous`)).rejects.toThrow();
  });

  it("reads `.previous` when the new unit was not renamed into place (a kill)", async () => {
    const stateDir = join(root, "t1");
    await mkdir(join(`${stateDir}.previous`, "model"), { recursive: true });
    const kept = await readState(stateDir);
    expect(kept).toEqual({ modelDir: join(`${stateDir}.previous`, "model"), status: undefined });
  });

  it("leaves no temporary folder when the model cannot be saved", async () => {
    const failing = {
      saveToFolder: async () => {
        throw new Error("disk full");
      },
    } as unknown as TrainableModel<unknown>;
    await expect(persistState(failing, status, join(root, "t1"))).rejects.toThrow("disk full");
    expect(await import("node:fs/promises").then((fs) => fs.readdir(root))).toEqual([]);
  });
});
