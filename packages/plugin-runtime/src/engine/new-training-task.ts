import {
  type Id,
  parseWith,
  TrainPluginInput,
  type TrainPluginInput as TrainPluginInputType,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { EngineInstance } from "./engine-instance.js";
import type { EngineTrainInput, EngineTrainOptions } from "./training-engine.js";
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

/**
 * Where a new task saves, as both engines decide it: the handle asked for (checked), or else
 * `generate()`'s (which saves may only create); the new checkpoint becomes the default unless
 * asked otherwise.
 */
export function saveTarget(
  options: Pick<EngineTrainOptions, "handle" | "setAsDefault">,
  generate: () => Id,
): { handle: Id; generatedHandle: boolean; setAsDefault: boolean } {
  const handle = options.handle === undefined ? generate() : validateId(options.handle, "handle");
  return {
    handle,
    generatedHandle: options.handle === undefined,
    setAsDefault: options.setAsDefault ?? true,
  };
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
