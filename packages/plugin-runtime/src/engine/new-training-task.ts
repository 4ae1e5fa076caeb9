import {
  type Id,
  parseWith,
  TrainPluginInput,
  type TrainPluginInput as TrainPluginInputType,
  ValidationError,
} from "@trainable/core";
import type { EngineInstance } from "./engine-instance.js";
import type { EngineTrainInput } from "./training-engine.js";
import type { TrainingTask } from "./training-task.js";

/**
 * Checks a training request for `instance`: a `TrainPluginInput` whose `pluginInstance`, when
 * given, is the instance's id. Errors are prefixed with `component`.
 */
export function parseTrainInput(
  input: EngineTrainInput,
  instance: EngineInstance,
  component: string,
): TrainPluginInputType {
  const parsed = parseWith(
    TrainPluginInput,
    { ...input, pluginInstance: input?.pluginInstance ?? instance.id },
    "TrainPluginInput",
    component,
  );
  if (parsed.pluginInstance !== instance.id) {
    throw ValidationError.forField(
      component,
      "pluginInstance",
      `"${parsed.pluginInstance}" does not match the instance "${instance.id}" being trained`,
    );
  }
  return parsed;
}

/** A new task's record (`waiting`), as both engines create it. */
export function newTrainingTask(options: {
  taskId: Id;
  instance: EngineInstance;
  input: TrainPluginInputType;
  now: Date;
  timeoutMs: number;
  /** The checkpoint handle to save to. */
  handle: Id;
  /** The handle was generated for this task (not asked): saves may only create it. */
  generatedHandle: boolean;
  setAsDefault: boolean;
}): TrainingTask {
  const { now, instance } = options;
  return {
    schemaVersion: 1,
    taskId: options.taskId,
    instanceId: instance.id,
    plugin: instance.plugin,
    state: "waiting",
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    deadline: new Date(now.getTime() + options.timeoutMs).toISOString(),
    input: options.input,
    save: {
      handle: options.handle,
      setAsDefault: options.setAsDefault,
      // A handle of its own: the store refuses any second save of this task to it.
      ...(options.generatedHandle ? { createOnly: true } : {}),
    },
    statusChecks: 0,
    updates: [],
  };
}
