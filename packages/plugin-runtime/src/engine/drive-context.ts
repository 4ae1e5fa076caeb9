import type { PluginRequestContext, PostUpdate } from "@trainable/core";
import type { PluginClient } from "../client/plugin-client.js";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { Clock } from "./clock.js";
import type { EngineInstance } from "./engine-instance.js";
import type { PollPolicy } from "./poll-policy.js";
import type { TaskEvent } from "./task-event.js";
import type { TrainingTask } from "./training-task.js";

/**
 * Where a driver can be stopped on purpose (tests kill the process there, to check that a
 * restart resumes exactly): just before an effect on the plugin, or just after its answer and
 * before that answer is recorded.
 */
export type DrivePoint =
  | "before-train"
  | "after-train"
  | "before-status-check"
  | "after-status-check"
  | "before-finish";

export interface DriveHooks {
  /** Called at each point, with the plugin's answer when there is one. */
  at?(point: DrivePoint, task: TrainingTask, response?: TrainResponse): void | Promise<void>;
}

export interface EngineLogger {
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
}

/** What the driver needs from its engine. */
export interface DriveContext {
  clock: Clock;
  policy: PollPolicy;
  logger: EngineLogger;
  hooks: DriveHooks;
  maxUpdates: number;
  /** The in-training model's folder of a task (in-process plugins). */
  modelDir(taskId: string): string;
  /** Writes the task (resolves once this version is on disk) and emits the event. */
  record(task: TrainingTask, type?: TaskEvent["type"], update?: PostUpdate): Promise<void>;
  /** The context of requests for an instance. */
  contextOf(instanceId: string): PluginRequestContext;
  /** Makes sure the plugin knows the instance. */
  ensureRegistered(client: PluginClient, instance: EngineInstance): Promise<void>;
}

/** The training a driver works on: its task, the plugin that trains it and the instance. */
export interface DriveTarget {
  task: TrainingTask;
  client: PluginClient;
  instance: EngineInstance;
}

/** Why a driver stopped without finishing (the engine closing): the task stays as it is. */
export const CLOSING = Symbol("engine closing");
