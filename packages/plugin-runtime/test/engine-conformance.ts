/**
 * The conformance suite of the `TrainingEngine` interface: the same cases on every engine —
 * the local engine (`engine-conformance.test.ts` here) and the BullMQ engine
 * (`packages/engine-bullmq/test/conformance.integration.test.ts`), which imports this file.
 * Only types come from this package, so the engine under test may be built from another copy.
 *
 * The engine given must have an instance `instanceId` of a trainable tagger that takes
 * `trainingEpochs` and `trainingParams: { keywords, fail?, epochMs? }`, posts one
 * `trainingProgress` update per epoch and saves to the shared `store`.
 */
import type { CheckpointStore } from "@trainable/core";
import { afterEach, describe, expect, it } from "vitest";
import type { TaskEvent, TrainingEngine } from "../src/index.js";

export interface ConformanceSetup {
  engine: TrainingEngine;
  store: CheckpointStore;
  instanceId: string;
  /** The plugin name and config the instance was created with, and a different valid config. */
  plugin: string;
  config: unknown;
  otherConfig: unknown;
  close(): Promise<void>;
}

export function describeEngineConformance(
  name: string,
  makeEngine: () => Promise<ConformanceSetup>,
): void {
  describe(`TrainingEngine conformance: ${name}`, () => {
    const open: ConformanceSetup[] = [];
    afterEach(async () => {
      while (open.length > 0) await open.pop()?.close();
    });
    const setup = async () => {
      const made = await makeEngine();
      open.push(made);
      return made;
    };

    it("trains to succeeded: events in order, the checkpoint saved and default moved", async () => {
      const { engine, store, instanceId } = await setup();
      const events: TaskEvent[] = [];
      engine.on("task", (event) => events.push(event));
      const run = await engine.startTraining(
        instanceId,
        { trainingEpochs: 2, trainingParams: { keywords: ["alpha"], epochMs: 10 } },
        { handle: "conf-v1" },
      );
      expect(run.task).toMatchObject({ taskId: run.taskId, instanceId, state: "waiting" });
      const task = await run.done;
      expect(task).toMatchObject({
        taskId: run.taskId,
        state: "succeeded",
        phase: "finished",
        checkpoint: { handle: "conf-v1" },
      });
      expect(task.progress).toMatchObject({ epoch: 2 });
      const ref = await store.resolve({ pluginInstanceId: instanceId, handle: "default" });
      expect(ref.metadata.trainingTaskId).toBe(run.taskId);
      await expect
        .poll(() => events.some((e) => e.taskId === run.taskId && e.type === "finished"))
        .toBe(true);
      const types = events.filter((e) => e.taskId === run.taskId).map((e) => e.type);
      expect(types[0]).toBe("created");
      expect(types.indexOf("started")).toBeGreaterThan(0);
      expect(types.filter((t) => t === "update")).toHaveLength(2);
      expect(types.at(-1)).toBe("finished");
      expect(types.filter((t) => t === "finished")).toHaveLength(1);
      expect(await engine.getTask(run.taskId)).toMatchObject({ state: "succeeded" });
      expect(await engine.wait(run.taskId)).toMatchObject({ state: "succeeded" });
    });

    it("keeps default where it is with setAsDefault: false", async () => {
      const { engine, store, instanceId } = await setup();
      const first = await engine.train(instanceId, { trainingParams: { keywords: ["a"] } });
      const second = await engine.train(
        instanceId,
        { trainingParams: { keywords: ["b"] } },
        { setAsDefault: false, handle: "side" },
      );
      expect(second.state).toBe("succeeded");
      const ref = await store.resolve({ pluginInstanceId: instanceId, handle: "default" });
      expect(ref.metadata.trainingTaskId).toBe(first.taskId);
    });

    it("records a failed training (train() resolves, it does not throw)", async () => {
      const { engine, instanceId } = await setup();
      const task = await engine.train(instanceId, { trainingParams: { fail: "bad data" } });
      expect(task.state).toBe("failed");
      expect(task.error?.message).toContain("bad data");
      expect(await engine.getTask(task.taskId)).toMatchObject({ state: "failed" });
    });

    it("cancels a running training within 2 s", async () => {
      const { engine, instanceId } = await setup();
      const run = await engine.startTraining(instanceId, {
        trainingEpochs: 200,
        trainingParams: { keywords: ["x"], epochMs: 50 },
      });
      for await (const event of engine.watch(run.taskId)) {
        if (event.type === "update") break;
      }
      const started = Date.now();
      const task = await engine.cancel(run.taskId);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(task.state).toBe("cancelled");
      expect(await run.done).toMatchObject({ state: "cancelled" });
      // Cancelling a final task answers it as it is.
      expect(await engine.cancel(run.taskId)).toMatchObject({ state: "cancelled" });
    });

    it("cancels through the signal of startTraining", async () => {
      const { engine, instanceId } = await setup();
      const controller = new AbortController();
      const run = await engine.startTraining(
        instanceId,
        { trainingEpochs: 200, trainingParams: { keywords: ["x"], epochMs: 50 } },
        { signal: controller.signal },
      );
      for await (const event of engine.watch(run.taskId)) {
        if (event.type === "update") break;
      }
      controller.abort();
      expect(await run.done).toMatchObject({ state: "cancelled" });
    });

    it("watch() starts with a snapshot and ends after finished; on a final task, a snapshot only", async () => {
      const { engine, instanceId } = await setup();
      const run = await engine.startTraining(instanceId, {
        trainingEpochs: 2,
        trainingParams: { keywords: ["w"], epochMs: 20 },
      });
      const types: string[] = [];
      for await (const event of engine.watch(run.taskId)) types.push(event.type);
      expect(types[0]).toBe("snapshot");
      expect(types.at(-1)).toBe("finished");
      const again: string[] = [];
      for await (const event of engine.watch(run.taskId)) again.push(event.type);
      expect(again).toEqual(["snapshot"]);
    });

    it("lists tasks newest first, filtered by state and instance", async () => {
      const { engine, instanceId } = await setup();
      const a = await engine.train(instanceId, { trainingParams: { keywords: ["a"] } });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const b = await engine.train(instanceId, { trainingParams: { fail: "no" } });
      expect((await engine.listTasks()).map((t) => t.taskId)).toEqual([b.taskId, a.taskId]);
      expect((await engine.listTasks({ state: "failed" })).map((t) => t.taskId)).toEqual([
        b.taskId,
      ]);
      expect(await engine.listTasks({ instanceId: "someone-else" })).toEqual([]);
    });

    it("answers unknown tasks: getTask undefined, wait and cancel NOT_FOUND", async () => {
      const { engine } = await setup();
      expect(await engine.getTask("no-such-task")).toBeUndefined();
      await expect(engine.wait("no-such-task")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(engine.cancel("no-such-task")).rejects.toMatchObject({ code: "NOT_FOUND" });
    });

    it("createInstance: unchanged returns it, another config conflicts unless replace", async () => {
      const { engine, instanceId, plugin, config, otherConfig } = await setup();
      const before = await engine.getInstance(instanceId);
      expect(before).toMatchObject({ id: instanceId, plugin });
      const same = await engine.createInstance({ id: instanceId, plugin, config });
      expect(same.createdAt).toBe(before?.createdAt);
      await expect(
        engine.createInstance({ id: instanceId, plugin, config: otherConfig }),
      ).rejects.toMatchObject({ code: "CONFLICT" });
      const replaced = await engine.createInstance({
        id: instanceId,
        plugin,
        config: otherConfig,
        replace: true,
      });
      expect(replaced.config).toEqual(otherConfig);
      expect((await engine.listInstances()).map((i) => i.id)).toEqual([instanceId]);
    });

    it("refuses a training of an unknown instance", async () => {
      const { engine } = await setup();
      await expect(engine.startTraining("no-such-instance", {})).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
    });
  });
}
