import { validateId } from "@trainable/core";
import type { TrainingTask } from "@trainable/plugin-runtime";
import {
  parseInstanceSpec,
  taskSubscriptions,
  toPluginClient,
} from "@trainable/plugin-runtime/engine";
import type { BullmqEngine, BullmqEngineOptions } from "./bullmq-engine-options.js";
import { closeEngineContext, createEngineContext } from "./engine/engine-context.js";
import { createInstance, getInstance, listInstances } from "./engine/engine-instances.js";
import { enqueueTraining } from "./engine/enqueue-training.js";
import { listTasks } from "./engine/list-tasks.js";
import { relayEvents } from "./engine/relay-events.js";
import { cancelTask, waitForTask } from "./engine/wait-for-task.js";
import { taskOf } from "./task-of-job.js";

/**
 * The distributed engine's client side: it creates instances and enqueues trainings (one
 * BullMQ job per task, job id = task id) that workers (`createBullmqWorker`) drive, reads
 * their records, relays their events (job progress) and cancels them on whichever worker
 * runs them. It drives nothing itself; any number of engines and workers share a queue.
 */
export async function createBullmqEngine(options: BullmqEngineOptions): Promise<BullmqEngine> {
  const context = await createEngineContext(options);
  const relay = relayEvents(context);
  const { store, queue, emitter } = context;

  const engine: BullmqEngine = {
    store,
    queue,
    registerPlugin(name, plugin) {
      context.assertOpen();
      context.plugins.set(validateId(name, "plugin name"), toPluginClient(plugin, { store }));
    },
    async createInstance(spec) {
      context.assertOpen();
      return createInstance(context, parseInstanceSpec(spec));
    },
    getInstance: async (id) => getInstance(context, id),
    listInstances: async () => listInstances(context),

    async startTraining(instanceId, input, trainOptions = {}) {
      context.assertOpen();
      const recorded = await enqueueTraining(context, {
        instanceId: validateId(instanceId, "instanceId"),
        input,
        options: trainOptions,
        relay,
      });
      const { taskId } = recorded;
      const signal = trainOptions.signal;
      if (signal) {
        const onAbort = () => void engine.cancel(taskId).catch(() => {});
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }
      // `done` never rejects: should Redis fail us, it settles with the task as recorded.
      const done = engine.wait(taskId).catch((): TrainingTask => structuredClone(recorded));
      return { taskId, task: structuredClone(recorded), done };
    },
    train: async (instanceId, input, trainOptions) =>
      (await engine.startTraining(instanceId, input, trainOptions)).done,
    cancel: async (taskId) => cancelTask(context, relay, taskId),
    wait: async (taskId) => waitForTask(context, relay, taskId),
    async getTask(taskId) {
      const job = await context.jobOf(taskId);
      return job ? taskOf(job) : undefined;
    },
    listTasks: async (filter = {}) => listTasks(context, filter),
    ...taskSubscriptions(emitter, {
      engine: () => engine,
      component: "engine-bullmq",
      endOnWait: true,
    }),

    async close() {
      if (context.closed) return;
      context.closed = true;
      // Pending wait()s settle with the task as last read (`done` never rejects).
      relay.finishAll();
      emitter.removeAllListeners();
      await closeEngineContext(context);
    },
  };
  return engine;
}
