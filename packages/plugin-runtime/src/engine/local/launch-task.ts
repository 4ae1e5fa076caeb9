import { CancelledError } from "@trainable/core";
import type { PluginClient } from "../../client/plugin-client.js";
import { driveTraining } from "../drive-training.js";
import type { EngineInstance } from "../engine-instance.js";
import type { TaskLock } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import { watchCancelRequest } from "./cancel-request.js";
import type { LocalEngineState } from "./local-engine-state.js";
import { CANCEL_REQUESTED } from "./request-cancel.js";

/**
 * Drives a task in this process, holding its driver lock (taken by the caller) until it
 * stops: no other engine or `resume` touches it meanwhile. A cancel request another process
 * leaves in the task's folder (`requestCancel`, the dashboard) cancels it, as `cancel` does.
 * Returns its `done` promise (never rejects).
 */
export function launchTask(
  state: LocalEngineState,
  options: {
    task: TrainingTask;
    client: PluginClient;
    instance: EngineInstance;
    lock: TaskLock;
    /** Cancels the training when it aborts. */
    signal?: AbortSignal;
  },
): Promise<TrainingTask> {
  const { task, lock, signal: external } = options;
  const controller = new AbortController();
  const cancel = () =>
    controller.abort(external?.reason ?? new CancelledError("[runtime] Training cancelled"));
  if (external?.aborted) cancel();
  else external?.addEventListener("abort", cancel, { once: true });
  const unwatch = watchCancelRequest(state.taskLog.taskDir(task.taskId), () =>
    controller.abort(new CancelledError(CANCEL_REQUESTED)),
  );
  const done = driveTraining(state.drive, {
    task,
    client: options.client,
    instance: options.instance,
    controller,
  })
    .catch(async (error: unknown) => {
      state.logger.error(`[runtime] Training ${task.taskId} could not be recorded`, error);
      return state.snapshot(task);
    })
    .finally(async () => {
      // The caller's signal may outlive many trainings: it keeps no listener of an ended one.
      external?.removeEventListener("abort", cancel);
      unwatch();
      state.active.delete(task.taskId);
      await state.taskLog.flush();
      await lock.release();
    });
  state.active.set(task.taskId, { controller, done });
  return done;
}
