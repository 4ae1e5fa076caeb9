import { isFinalTaskState, NotFoundError, TrainingError, validateId } from "@trainable/core";
import { CLOSING } from "./drive-context.js";
import { cancelTask, requestCancel } from "./local/local-cancel.js";
import type { LocalEngineOptions } from "./local/local-engine-options.js";
import { createLocalEngineState } from "./local/local-engine-state.js";
import { createInstance, registerPlugin } from "./local/local-instances.js";
import { resumeTasks } from "./local/local-resume.js";
import { startTraining } from "./local/local-start-training.js";
import type { LocalEngine } from "./local-engine.js";
import { taskSubscriptions } from "./watch-task.js";

export type { LocalEngineOptions } from "./local/local-engine-options.js";

/**
 * Creates a local engine on `dataDir`: registers plugins, keeps plugin instances, and runs
 * the training lifecycle — getTrainingParameters → merge → train → (while `running`)
 * trainStatus with the last status, paced by `retryAfterMs`/backoff, under an overall
 * timeout → `succeeded` (saved, `default` moved, `archivePath` recorded), `failed` or
 * `cancelled`. Tasks are written atomically to `{dataDir}/tasks/{taskId}/task.json` as they
 * change, so an engine created later on the same `dataDir` lists them and `resume()`s the
 * unfinished ones.
 *
 * Who saves: the process that holds the model. For an in-process plugin that is this
 * engine (it also keeps the in-training model's folder at `{dataDir}/tasks/{taskId}/model`
 * so status checks survive a restart); for a plugin served over HTTP it is the plugin
 * server, and the engine records the `archivePath` it answers.
 */
export async function createLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const state = await createLocalEngineState(options);
  const { tasks, instances, active, emitter } = state;

  const engine: LocalEngine = {
    store: state.store,
    cache: state.cache,
    dataDir: state.dataDir,
    instances: {
      get(id) {
        const instance = instances.get(id);
        if (!instance) return undefined;
        return { id: instance.id, handle: instance.handle, config: instance.config };
      },
    },
    registerPlugin: (name, plugin) => registerPlugin(state, name, plugin),
    createInstance: async (spec) => createInstance(state, spec),
    getInstance(id) {
      const instance = instances.get(id);
      return instance ? structuredClone(instance) : undefined;
    },
    listInstances: () => [...instances.values()].map((instance) => structuredClone(instance)),

    async startTraining(instanceId, input, trainOptions = {}) {
      state.assertOpen();
      const id = validateId(instanceId, "instanceId");
      return startTraining(state, { instanceId: id, input, options: trainOptions });
    },
    train: async (instanceId, input, trainOptions) =>
      (await engine.startTraining(instanceId, input, trainOptions)).done,
    cancel: async (taskId) => cancelTask(state, taskId),
    requestCancel: async (taskId) => requestCancel(state, taskId),
    async wait(taskId) {
      const task = tasks.get(taskId);
      if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
      if (isFinalTaskState(task.state)) return state.snapshot(task);
      const running = active.get(taskId);
      if (running) return running.done;
      // Unfinished on disk but driven by no one (e.g. after a restart): waiting would hang.
      throw new TrainingError(
        `[runtime] Task "${taskId}" is ${task.state} but not being driven by this engine: call resume() first`,
      );
    },
    getTask(taskId) {
      const task = tasks.get(taskId);
      return task ? state.snapshot(task) : undefined;
    },
    listTasks(filter = {}) {
      return [...tasks.values()]
        .filter((task) => filter.instanceId === undefined || task.instanceId === filter.instanceId)
        .filter((task) => filter.state === undefined || task.state === filter.state)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map(state.snapshot);
    },
    ...taskSubscriptions(emitter, { engine: () => engine, component: "runtime" }),
    resume: async () => resumeTasks(state),

    async run(instanceId, input, runOptions = {}) {
      state.assertOpen();
      const instance = state.instanceOf(validateId(instanceId, "instanceId"));
      const client = state.pluginOf(instance.plugin);
      await state.drive.ensureRegistered(client, instance);
      return client.run(
        { data: input, context: state.drive.contextOf(instance.id) },
        {
          handle:
            runOptions.handle === undefined
              ? instance.handle
              : validateId(runOptions.handle, "handle"),
          signal: runOptions.signal,
        },
      );
    },

    async close() {
      if (state.closed) return;
      state.closed = true;
      const running = [...active.values()];
      for (const entry of running) entry.controller.abort(CLOSING);
      await Promise.all(running.map((entry) => entry.done));
      await state.taskLog.flush();
      emitter.removeAllListeners();
    },
  };
  return engine;
}
