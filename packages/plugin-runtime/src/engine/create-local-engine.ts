import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { isAbsolute, resolve } from "node:path";
import {
  CancelledError,
  type CheckpointStore,
  ConflictError,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  describeValue,
  isFinalTaskState,
  type ModelCache,
  NotFoundError,
  parseWith,
  TrainableError,
  TrainingError,
  TrainPluginInput,
  ValidationError,
  validateId,
} from "@trainable/core";
import { createLocalPluginClient } from "../client/create-local-plugin-client.js";
import type { PluginClient } from "../client/plugin-client.js";
import type { PluginService } from "../service/plugin-service.js";
import { generateHandle } from "../training/generate-handle.js";
import { type Clock, systemClock } from "./clock.js";
import {
  CLOSING,
  type DriveContext,
  type DriveHooks,
  driveTraining,
  type EngineLogger,
  finish,
  stopRemote,
} from "./drive-training.js";
import type { EngineInstance } from "./engine-instance.js";
import type { LocalEngine, ResumeResult } from "./local-engine.js";
import { type PollPolicy, resolvePollPolicy } from "./poll-policy.js";
import type { TaskEvent } from "./task-event.js";
import { describeHolder, isTaskLock, lockTask, type TaskLock } from "./task-lock.js";
import { createTaskLog } from "./task-log.js";
import type { TrainingTask } from "./training-task.js";

export interface LocalEngineOptions {
  /** Where checkpoints are saved and loaded (for in-process plugins). */
  store: CheckpointStore;
  /** The model cache in-process plugins serve through; saves notify it. */
  cache?: ModelCache | false;
  /** The engine's own state: instances, tasks, in-training model folders. */
  dataDir: string;
  /** Time source, for tests. */
  clock?: Clock;
  /** Pacing of status checks. */
  pollPolicy?: Partial<PollPolicy>;
  /** Overall timeout of a training when `train` is given none. Default 24 h. */
  defaultTimeoutMs?: number;
  /** Post-updates kept per task (older ones are dropped). Default 100. */
  maxUpdatesPerTask?: number;
  logger?: EngineLogger;
  /** Observes the driver at its write-ahead points (tests stop the process there). */
  hooks?: DriveHooks;
}

interface Active {
  controller: AbortController;
  done: Promise<TrainingTask>;
}
const DEFAULT_TIMEOUT_MS = 24 * 60 * 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  const site = { component: "runtime", call: "createLocalEngine" };
  checkOptionsObject(options, { ...site, expected: "({ store, cache?, dataDir })" });
  checkCheckpointStore(options.store, site);
  checkModelCache(options.cache, site);
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw ValidationError.forField(
      "runtime",
      "dataDir",
      `is required: the engine's state folder (a path), got ${describeValue(options.dataDir)}`,
    );
  }
  const store = options.store;
  const cache = options.cache ?? false;
  const dataDir = isAbsolute(options.dataDir) ? options.dataDir : resolve(options.dataDir);
  const clock = options.clock ?? systemClock;
  const policy = resolvePollPolicy(options.pollPolicy);
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkTimeout(defaultTimeoutMs, "defaultTimeoutMs");
  const maxUpdates = options.maxUpdatesPerTask ?? 100;
  const logger: EngineLogger = options.logger ?? {
    warn: (message, error) => console.warn(message, error ?? ""),
    error: (message, error) => console.error(message, error ?? ""),
  };
  const taskLog = await createTaskLog(dataDir, (message, error) => logger.error(message, error));

  const plugins = new Map<string, PluginClient>();
  const instances = new Map<string, EngineInstance>();
  const tasks = new Map<string, TrainingTask>();
  const active = new Map<string, Active>();
  const registrations = new Map<string, Promise<void>>();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let closed = false;

  const loadedInstances = await taskLog.loadInstances();
  for (const instance of loadedInstances.instances) instances.set(instance.id, instance);
  const loadedTasks = await taskLog.loadTasks();
  for (const task of loadedTasks.tasks) tasks.set(task.taskId, task);
  for (const problem of [...loadedInstances.problems, ...loadedTasks.problems]) {
    logger.warn(`[runtime] Skipped an unreadable engine file: ${problem}`);
  }

  const nowIso = () => clock.now().toISOString();
  const snapshot = (task: TrainingTask) => structuredClone(task);
  const emit = (type: TaskEvent["type"], task: TrainingTask, update?: TaskEvent["update"]) => {
    const event: TaskEvent = { type, taskId: task.taskId, task: snapshot(task) };
    if (update !== undefined) event.update = update;
    emitter.emit("task", event);
  };
  const record = (task: TrainingTask, type?: TaskEvent["type"], update?: TaskEvent["update"]) => {
    task.updatedAt = nowIso();
    const written = taskLog.writeTask(task);
    if (type) emit(type, task, update);
    return written;
  };

  const assertOpen = () => {
    if (closed) throw new TrainableError("INTERNAL", "[runtime] The engine is closed");
  };

  const pluginOf = (name: string): PluginClient => {
    const plugin = plugins.get(name);
    if (!plugin) {
      throw new NotFoundError(
        `[runtime] Unknown plugin "${name}": register it with engine.registerPlugin("${name}", …) first`,
      );
    }
    return plugin;
  };

  const instanceOf = (id: string): EngineInstance => {
    const instanceId = validateId(id, "instanceId");
    const instance = instances.get(instanceId);
    if (!instance) {
      throw new NotFoundError(
        `[runtime] Unknown plugin instance "${instanceId}": create it with engine.createInstance first`,
      );
    }
    return instance;
  };

  /** Makes sure the plugin knows the instance (once per engine process and plugin). */
  const ensureRegistered = (client: PluginClient, instance: EngineInstance): Promise<void> => {
    const key = `${instance.plugin}\u0000${instance.id}`;
    let pending = registrations.get(key);
    if (!pending) {
      pending = client
        .registerInstance({ id: instance.id, handle: instance.handle, config: instance.config })
        .then(() => undefined);
      pending.catch(() => registrations.delete(key));
      registrations.set(key, pending);
    }
    return pending;
  };

  const contextOf = (instanceId: string) => ({
    pluginInstanceId: instanceId,
    workspace: store.workspace,
  });

  const driveContext: DriveContext = {
    clock,
    policy,
    logger,
    hooks: options.hooks ?? {},
    maxUpdates,
    modelDir: (taskId) => taskLog.modelDir(taskId),
    record,
    contextOf,
    ensureRegistered,
  };

  /**
   * Drives a task in this process, holding its driver lock (taken by the caller) until it
   * stops: no other engine or `resume` touches it meanwhile.
   */
  function launch(
    task: TrainingTask,
    client: PluginClient,
    instance: EngineInstance,
    lock: TaskLock,
    external?: AbortSignal,
  ) {
    const controller = new AbortController();
    if (external) {
      if (external.aborted)
        controller.abort(external.reason ?? new CancelledError("[runtime] Training cancelled"));
      else
        external.addEventListener(
          "abort",
          () =>
            controller.abort(external.reason ?? new CancelledError("[runtime] Training cancelled")),
          { once: true },
        );
    }
    const done = driveTraining(driveContext, task, client, instance, controller)
      .catch(async (error: unknown) => {
        logger.error(`[runtime] Training ${task.taskId} could not be recorded`, error);
        return snapshot(task);
      })
      .finally(async () => {
        active.delete(task.taskId);
        await taskLog.flush();
        await lock.release();
      });
    active.set(task.taskId, { controller, done });
    return done;
  }

  function uniqueHandle(instanceId: string): string {
    const base = generateHandle(clock.now());
    const taken = new Set(
      [...tasks.values()].filter((t) => t.instanceId === instanceId).map((t) => t.save.handle),
    );
    if (!taken.has(base)) return base;
    let n = 2;
    while (taken.has(`${base}-${n}`)) n++;
    return `${base}-${n}`;
  }

  const engine: LocalEngine = {
    store,
    cache,
    dataDir,
    instances: {
      get(id) {
        const instance = instances.get(id);
        if (!instance) return undefined;
        return { id: instance.id, handle: instance.handle, config: instance.config };
      },
    },

    registerPlugin(name, plugin) {
      assertOpen();
      const pluginName = validateId(name, "plugin name");
      const client: PluginClient =
        "registerInstance" in plugin && "kind" in plugin
          ? (plugin as PluginClient)
          : createLocalPluginClient(plugin as PluginService, { store, cache });
      plugins.set(pluginName, client);
      for (const key of registrations.keys()) {
        if (key.startsWith(`${pluginName}\u0000`)) registrations.delete(key);
      }
    },

    async createInstance(spec) {
      assertOpen();
      const id = validateId(spec?.id, "id");
      const plugin = validateId(spec.plugin, "plugin");
      const handle = spec.handle === undefined ? undefined : validateId(spec.handle, "handle");
      const client = pluginOf(plugin);
      const registered = await client.registerInstance({ id, handle, config: spec.config });
      const existing = instances.get(id);
      const at = nowIso();
      const instance: EngineInstance = {
        schemaVersion: 1,
        id,
        plugin,
        ...(handle !== undefined ? { handle } : {}),
        config: registered.config,
        createdAt: existing?.createdAt ?? at,
        updatedAt: at,
      };
      if (existing) {
        const same =
          existing.plugin === plugin &&
          existing.handle === handle &&
          JSON.stringify(existing.config) === JSON.stringify(instance.config);
        if (same) return structuredClone(existing);
        if (!spec.replace) {
          // Put the plugin's registration back the way it was.
          if (existing.plugin === plugin) {
            await client
              .registerInstance({ id, handle: existing.handle, config: existing.config })
              .catch(() => registrations.delete(`${plugin}\u0000${id}`));
          }
          throw new ConflictError(
            `[runtime] Plugin instance "${id}" already exists with a different plugin, handle or config: pass replace: true to replace it`,
          );
        }
      }
      await taskLog.writeInstance(instance);
      instances.set(id, instance);
      registrations.set(`${plugin}\u0000${id}`, Promise.resolve());
      return structuredClone(instance);
    },

    getInstance(id) {
      const instance = instances.get(id);
      return instance ? structuredClone(instance) : undefined;
    },

    listInstances() {
      return [...instances.values()].map((instance) => structuredClone(instance));
    },

    async startTraining(instanceId, input, trainOptions = {}) {
      assertOpen();
      const instance = instanceOf(instanceId);
      const client = pluginOf(instance.plugin);
      if (client.kind === "in-process" && (client as { trainable?: boolean }).trainable === false) {
        throw new TrainableError(
          "NOT_SUPPORTED",
          `[runtime] Plugin "${instance.plugin}" is not trainable (extend TrainablePluginService)`,
        );
      }
      const parsedInput = parseWith(
        TrainPluginInput,
        { ...input, pluginInstance: input?.pluginInstance ?? instance.id },
        "TrainPluginInput",
        "runtime",
      );
      if (parsedInput.pluginInstance !== instance.id) {
        throw ValidationError.forField(
          "runtime",
          "pluginInstance",
          `"${parsedInput.pluginInstance}" does not match the instance "${instance.id}" being trained`,
        );
      }
      const timeoutMs = trainOptions.timeoutMs ?? defaultTimeoutMs;
      checkTimeout(timeoutMs, "timeoutMs");
      const handle =
        trainOptions.handle === undefined
          ? uniqueHandle(instance.id)
          : validateId(trainOptions.handle, "handle");
      const now = clock.now();
      const task: TrainingTask = {
        schemaVersion: 1,
        taskId: randomUUID(),
        instanceId: instance.id,
        plugin: instance.plugin,
        state: "waiting",
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        deadline: new Date(now.getTime() + timeoutMs).toISOString(),
        input: parsedInput,
        save: {
          handle,
          setAsDefault: trainOptions.setAsDefault ?? true,
          // A handle of its own: the store refuses any second save of this task to it.
          ...(trainOptions.handle === undefined ? { createOnly: true } : {}),
        },
        statusChecks: 0,
        updates: [],
      };
      tasks.set(task.taskId, task);
      await record(task, "created");
      const lock = await lockTask(taskLog.taskDir(task.taskId));
      if (!isTaskLock(lock)) {
        throw new ConflictError(
          `[runtime] Task ${task.taskId} is driven by ${describeHolder(lock)}`,
        );
      }
      const done = launch(task, client, instance, lock, trainOptions.signal);
      return { taskId: task.taskId, task: snapshot(task), done };
    },

    async train(instanceId, input, trainOptions) {
      const run = await engine.startTraining(instanceId, input, trainOptions);
      return run.done;
    },

    async cancel(taskId) {
      const task = tasks.get(taskId);
      if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
      const running = active.get(taskId);
      if (running) {
        running.controller.abort(new CancelledError("[runtime] Training cancelled"));
        return running.done;
      }
      if (isFinalTaskState(task.state)) return snapshot(task);
      // Not driven by this engine: only when no one drives it (else that driver owns it).
      const lock = await lockTask(taskLog.taskDir(taskId));
      if (!isTaskLock(lock)) {
        throw new ConflictError(
          `[runtime] Task ${taskId} is driven by ${describeHolder(lock)}: cancel it there (or stop that process first)`,
        );
      }
      try {
        const instance = instances.get(task.instanceId);
        const client = plugins.get(task.plugin);
        if (instance && client) await stopRemote(driveContext, task, client, instance);
        return await finish(driveContext, task, "cancelled", {
          error: { code: "CANCELLED", message: "[runtime] Training cancelled" },
        });
      } finally {
        await taskLog.flush();
        await lock.release();
      }
    },

    async wait(taskId) {
      const task = tasks.get(taskId);
      if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
      if (isFinalTaskState(task.state)) return snapshot(task);
      const running = active.get(taskId);
      if (running) return running.done;
      // Unfinished on disk but driven by no one (e.g. after a restart): waiting would hang.
      throw new TrainingError(
        `[runtime] Task "${taskId}" is ${task.state} but not being driven by this engine: call resume() first`,
      );
    },

    getTask(taskId) {
      const task = tasks.get(taskId);
      return task ? snapshot(task) : undefined;
    },

    listTasks(filter = {}) {
      return [...tasks.values()]
        .filter((task) => filter.instanceId === undefined || task.instanceId === filter.instanceId)
        .filter((task) => filter.state === undefined || task.state === filter.state)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map(snapshot);
    },

    watch(taskId, watchOptions = {}) {
      return watchTask(engine, taskId, watchOptions.signal);
    },

    on(event, listener) {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },

    async resume() {
      assertOpen();
      const result: ResumeResult = { resumed: [], interrupted: [], skipped: [] };
      // Tasks another process wrote since this engine loaded its log.
      for (const task of (await taskLog.loadTasks()).tasks) {
        if (!active.has(task.taskId)) tasks.set(task.taskId, task);
      }
      for (const task of tasks.values()) {
        if (isFinalTaskState(task.state) || active.has(task.taskId)) continue;
        const client = plugins.get(task.plugin);
        if (!client) {
          result.skipped.push({
            taskId: task.taskId,
            reason: `plugin "${task.plugin}" is not registered`,
          });
          continue;
        }
        // Only a task no one drives: a live driver (another engine, `trainable train`) keeps it.
        const lock = await lockTask(taskLog.taskDir(task.taskId));
        if (!isTaskLock(lock)) {
          result.skipped.push({ taskId: task.taskId, reason: `driven by ${describeHolder(lock)}` });
          continue;
        }
        // Read again under the lock: the last driver may have moved it on before it stopped.
        const fresh = (await taskLog.loadTasks()).tasks.find((t) => t.taskId === task.taskId);
        if (fresh) {
          Object.assign(task, fresh);
          tasks.set(task.taskId, task);
        }
        if (isFinalTaskState(task.state)) {
          await lock.release();
          continue;
        }
        const instance = instances.get(task.instanceId);
        if (!instance) {
          await finish(driveContext, task, "failed", {
            error: {
              code: "NOT_FOUND",
              message: `[runtime] Plugin instance "${task.instanceId}" no longer exists`,
            },
          });
          await taskLog.flush();
          await lock.release();
          result.interrupted.push(task.taskId);
          continue;
        }
        const polling =
          task.remoteStatus !== undefined && !isFinalTaskState(task.remoteStatus.state);
        if (task.state === "running" && task.phase === undefined && !polling) {
          // A record from before write-ahead phases: whether its train call ran (and saved)
          // cannot be known, so it is not silently repeated.
          await finish(driveContext, task, "failed", {
            error: {
              code: "INTERNAL",
              message:
                "[runtime] Interrupted: the engine stopped while the plugin's train call was in flight (recorded by an older version); train again",
            },
          });
          await taskLog.flush();
          await lock.release();
          result.interrupted.push(task.taskId);
          continue;
        }
        // Wherever it stopped: a train call that may have been in flight is repeated as a
        // retry (the plugin continues that training), status checks go on from the last one.
        launch(task, client, instance, lock);
        result.resumed.push(task.taskId);
      }
      return result;
    },

    async run(instanceId, input, runOptions = {}) {
      assertOpen();
      const instance = instanceOf(instanceId);
      const client = pluginOf(instance.plugin);
      await ensureRegistered(client, instance);
      return client.run(
        { data: input, context: contextOf(instance.id) },
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
      if (closed) return;
      closed = true;
      const running = [...active.values()];
      for (const entry of running) entry.controller.abort(CLOSING);
      await Promise.all(running.map((entry) => entry.done));
      await taskLog.flush();
      emitter.removeAllListeners();
    },
  };
  return engine;
}

function checkTimeout(value: number, field: string): void {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw ValidationError.forField(
      "runtime",
      field,
      `must be a positive number of milliseconds, at most ${MAX_TIMER_MS} (about 24.8 days)`,
    );
  }
}

async function* watchTask(
  engine: LocalEngine,
  taskId: string,
  signal: AbortSignal | undefined,
): AsyncIterableIterator<TaskEvent> {
  const queue: TaskEvent[] = [];
  let wake: (() => void) | undefined;
  const off = engine.on("task", (event) => {
    if (event.taskId !== taskId) return;
    queue.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  try {
    const task = engine.getTask(taskId);
    if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
    yield { type: "snapshot", taskId, task };
    if (isFinalTaskState(task.state)) return;
    for (;;) {
      while (queue.length > 0) {
        const event = queue.shift() as TaskEvent;
        yield event;
        if (event.type === "finished") return;
      }
      if (signal?.aborted) return;
      await new Promise<void>((resolveWait) => {
        wake = resolveWait;
      });
      wake = undefined;
    }
  } finally {
    off();
    signal?.removeEventListener("abort", onAbort);
  }
}
