import { EventEmitter } from "node:events";
import { isAbsolute, resolve } from "node:path";
import {
  type CheckpointStore,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
  describeValue,
  type Id,
  type ModelCache,
  NotFoundError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import type { PluginClient } from "../../client/plugin-client.js";
import { checkTimeout, DEFAULT_TIMEOUT_MS } from "../check-timeout.js";
import { type Clock, systemClock } from "../clock.js";
import { consoleLogger } from "../console-logger.js";
import type { DriveContext, EngineLogger } from "../drive-context.js";
import type { EngineInstance } from "../engine-instance.js";
import { resolvePollPolicy } from "../poll-policy.js";
import type { TaskEvent } from "../task-event.js";
import { createTaskLog, type TaskLog } from "../task-log.js";
import type { TrainingTask } from "../training-task.js";
import type { LocalEngineOptions } from "./local-engine-options.js";

/** A training this engine drives. */
interface ActiveTask {
  controller: AbortController;
  done: Promise<TrainingTask>;
}

/** What the local engine's parts share: its settings, records in memory, and helpers. */
export interface LocalEngineState {
  readonly store: CheckpointStore;
  readonly cache: ModelCache | false;
  readonly dataDir: string;
  readonly clock: Clock;
  readonly defaultTimeoutMs: number;
  readonly logger: EngineLogger;
  readonly taskLog: TaskLog;
  readonly plugins: Map<string, PluginClient>;
  readonly instances: Map<string, EngineInstance>;
  readonly tasks: Map<string, TrainingTask>;
  readonly active: Map<string, ActiveTask>;
  /** The instances each plugin was told (`plugin\0id`), once per engine process. */
  readonly registrations: Map<string, Promise<void>>;
  readonly emitter: EventEmitter;
  readonly drive: DriveContext;
  closed: boolean;
  /** A copy of a task, as reads and events hand it out. */
  snapshot(task: TrainingTask): TrainingTask;
  /** Stamps and writes a task, emitting its event when `type` is given. */
  record(task: TrainingTask, type?: TaskEvent["type"], update?: TaskEvent["update"]): Promise<void>;
  assertOpen(): void;
  pluginOf(name: string): PluginClient;
  instanceOf(id: Id): EngineInstance;
}

/** Checks the options, loads the engine's records from `dataDir` and builds its state. */
export async function createLocalEngineState(
  options: LocalEngineOptions,
): Promise<LocalEngineState> {
  const site = { component: "runtime", call: "createLocalEngine" };
  checkOptionsObject(options, { ...site, expected: "({ store, cache?, dataDir })" });
  checkCheckpointStore(options.store, site);
  checkModelCache(options.cache, site);
  const dataDir = resolveDataDir(options.dataDir);
  const clock = options.clock ?? systemClock;
  const policy = resolvePollPolicy(options.pollPolicy);
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  checkTimeout(defaultTimeoutMs, { field: "defaultTimeoutMs", component: "runtime" });
  const logger = options.logger ?? consoleLogger;
  const taskLog = await createTaskLog(dataDir, (message, error) => logger.error(message, error));
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);

  const state: LocalEngineState = {
    store: options.store,
    cache: options.cache ?? false,
    dataDir,
    clock,
    defaultTimeoutMs,
    logger,
    taskLog,
    plugins: new Map(),
    instances: new Map(),
    tasks: new Map(),
    active: new Map(),
    registrations: new Map(),
    emitter,
    closed: false,
    drive: {
      clock,
      policy,
      logger,
      hooks: options.hooks ?? {},
      maxUpdates: options.maxUpdatesPerTask ?? 100,
      modelDir: (taskId) => taskLog.modelDir(taskId),
      record: (task, type, update) => state.record(task, type, update),
      contextOf: (instanceId) => ({
        pluginInstanceId: instanceId,
        workspace: options.store.workspace,
      }),
      ensureRegistered: (client, instance) => ensureRegistered(state, client, instance),
    },
    snapshot: (task) => structuredClone(task),
    record(task, type, update) {
      task.updatedAt = clock.now().toISOString();
      const written = taskLog.writeTask(task);
      if (type) {
        const event: TaskEvent = { type, taskId: task.taskId, task: state.snapshot(task) };
        if (update !== undefined) event.update = update;
        emitter.emit("task", event);
      }
      return written;
    },
    assertOpen() {
      if (state.closed) throw new TrainableError("INTERNAL", "[runtime] The engine is closed");
    },
    pluginOf(name) {
      const plugin = state.plugins.get(name);
      if (!plugin) {
        throw new NotFoundError(
          `[runtime] Unknown plugin "${name}": register it with engine.registerPlugin("${name}", …) first`,
        );
      }
      return plugin;
    },
    instanceOf(id) {
      const instance = state.instances.get(id);
      if (!instance) {
        throw new NotFoundError(
          `[runtime] Unknown plugin instance "${id}": create it with engine.createInstance first`,
        );
      }
      return instance;
    },
  };
  await loadRecords(state);
  return state;
}

/** The engine's state folder as an absolute path, or a `ValidationError` naming `dataDir`. */
export function resolveDataDir(value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw ValidationError.forField(
      "runtime",
      "dataDir",
      `is required: the engine's state folder (a path), got ${describeValue(value)}`,
    );
  }
  return isAbsolute(value) ? value : resolve(value);
}

async function loadRecords(state: LocalEngineState): Promise<void> {
  const loadedInstances = await state.taskLog.loadInstances();
  for (const instance of loadedInstances.instances) state.instances.set(instance.id, instance);
  const loadedTasks = await state.taskLog.loadTasks();
  for (const task of loadedTasks.tasks) state.tasks.set(task.taskId, task);
  for (const problem of [...loadedInstances.problems, ...loadedTasks.problems]) {
    state.logger.warn(`[runtime] Skipped an unreadable engine file: ${problem}`);
  }
}

/** Makes sure the plugin knows the instance (once per engine process and plugin). */
function ensureRegistered(
  state: LocalEngineState,
  client: PluginClient,
  instance: EngineInstance,
): Promise<void> {
  const key = `${instance.plugin}\u0000${instance.id}`;
  let pending = state.registrations.get(key);
  if (!pending) {
    pending = client
      .registerInstance({ id: instance.id, handle: instance.handle, config: instance.config })
      .then(() => undefined);
    pending.catch(() => state.registrations.delete(key));
    state.registrations.set(key, pending);
  }
  return pending;
}
