import { randomUUID } from "node:crypto";
import { ConflictError, type Id, TrainableError } from "@trainable/core";
import { generateHandle } from "../../training/generate-handle.js";
import { checkTimeout } from "../check-timeout.js";
import { newTrainingTask, parseTrainInput, saveTarget } from "../new-training-task.js";
import { takeTaskLock } from "../task-lock.js";
import type { EngineTrainInput, EngineTrainOptions, TrainingRun } from "../training-engine.js";
import type { TrainingTask } from "../training-task.js";
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
  const save = saveTarget(options, () => uniqueHandle(state, instance.id));
  const task = newTrainingTask({
    taskId: randomUUID() as Id,
    instance,
    input,
    now: state.clock.now(),
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

/** A generated handle no other task of the instance has (`-2`, `-3`… when one has). */
function uniqueHandle(state: LocalEngineState, instanceId: string): Id {
  const base = generateHandle(state.clock.now());
  const taken = new Set(
    [...state.tasks.values()]
      .filter((t: TrainingTask) => t.instanceId === instanceId)
      .map((t) => t.save.handle),
  );
  if (!taken.has(base)) return base as Id;
  let n = 2;
  while (taken.has(`${base}-${n}`)) n++;
  return `${base}-${n}` as Id;
}
