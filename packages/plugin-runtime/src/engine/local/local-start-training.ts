import { randomUUID } from "node:crypto";
import { ConflictError, type Id, TrainableError } from "@trainable/core";
import { generateTaskHandle } from "../../training/generate-task-handle.js";
import { checkTimeout } from "../check-timeout.js";
import { newTrainingTask, parseTrainInput, saveTarget } from "../new-training-task.js";
import { takeTaskLock } from "../task-lock.js";
import type { EngineTrainInput, EngineTrainOptions, TrainingRun } from "../training-engine.js";
import { launchTask } from "./launch-task.js";
import type { LocalEngineState } from "./local-engine-state.js";

/** `engine.startTraining`: records the task, takes its driver lock and drives it here. */
export async function startTraining(
  state: LocalEngineState,
  request: { instanceId: Id; input: EngineTrainInput; options: EngineTrainOptions },
): Promise<TrainingRun> {
  const { options } = request;
  const instance = state.instanceOf(request.instanceId);
  const client = state.pluginOf(instance.plugin);
  if (client.kind === "in-process" && (client as { trainable?: boolean }).trainable === false) {
    throw new TrainableError(
      "NOT_SUPPORTED",
      `[runtime] Plugin "${instance.plugin}" is not trainable (extend TrainablePluginService)`,
    );
  }
  const input = parseTrainInput(request.input, instance, "runtime");
  const timeoutMs = options.timeoutMs ?? state.defaultTimeoutMs;
  checkTimeout(timeoutMs, { field: "timeoutMs", component: "runtime" });
  const taskId = randomUUID() as Id;
  const now = state.clock.now();
  // Unique across engines sharing the store (same millisecond, other data folders too).
  const save = saveTarget(options, () => generateTaskHandle(taskId, now));
  const task = newTrainingTask({
    taskId,
    instance,
    input,
    now,
    timeoutMs,
    ...save,
  });
  state.tasks.set(task.taskId, task);
  await state.record(task, "created");
  const taken = await takeTaskLock(state.taskLog.taskDir(task.taskId));
  if ("heldBy" in taken) {
    throw new ConflictError(`[runtime] Task ${task.taskId} is driven by ${taken.heldBy}`);
  }
  const done = launchTask(state, {
    task,
    client,
    instance,
    lock: taken.lock,
    signal: options.signal,
  });
  return { taskId: task.taskId, task: state.snapshot(task), done };
}
