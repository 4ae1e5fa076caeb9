import {
  CancelledError,
  ConflictError,
  isFinalTaskState,
  NotFoundError,
  validateId,
} from "@trainable/core";
import { stopRemote } from "../stop-remote.js";
import { takeTaskLock } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import type { LocalEngineState } from "./local-engine-state.js";
import {
  type CancelRequestAnswer,
  type CancelSite,
  endCancelled,
  requestCancelAt,
} from "./request-cancel.js";

/**
 * `engine.cancel`: aborts a training this engine drives; one no one drives is cancelled here
 * (its plugin's job stopped) under its driver lock; one another process drives is refused.
 */
export async function cancelTask(state: LocalEngineState, taskId: string): Promise<TrainingTask> {
  const task = state.tasks.get(taskId);
  if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
  const running = state.active.get(taskId);
  if (running) {
    running.controller.abort(new CancelledError("[runtime] Training cancelled"));
    return running.done;
  }
  if (isFinalTaskState(task.state)) return state.snapshot(task);
  // Not driven by this engine: only when no one drives it (else that driver owns it).
  const taken = await takeTaskLock(state.taskLog.taskDir(taskId));
  if ("heldBy" in taken) {
    throw new ConflictError(
      `[runtime] Task ${taskId} is driven by ${taken.heldBy}: cancel it there (or stop that process first)`,
    );
  }
  try {
    return await endCancelled(cancelSite(state), task, "[runtime] Training cancelled");
  } finally {
    await state.taskLog.flush();
    await taken.lock.release();
  }
}

/**
 * `engine.requestCancel`: cancels a training this engine drives; for any other task of its
 * `dataDir` (one another process drives, or no one), see `requestCancelAt`.
 */
export async function requestCancel(
  state: LocalEngineState,
  taskId: string,
): Promise<CancelRequestAnswer> {
  state.assertOpen();
  const id = validateId(taskId, "taskId");
  if (state.active.has(id)) return { task: await cancelTask(state, id), requested: false };
  const answer = await requestCancelAt(cancelSite(state), id);
  // This engine's copy follows the record (unless it started driving the task meanwhile).
  if (!state.active.has(id)) state.tasks.set(id, state.snapshot(answer.task));
  return answer;
}

/** The engine as a cancel site: its plugins stop the jobs of the instances it knows. */
function cancelSite(state: LocalEngineState): CancelSite {
  return {
    taskLog: state.taskLog,
    drive: state.drive,
    jobStopper(task) {
      const instance = state.instances.get(task.instanceId);
      const client = state.plugins.get(task.plugin);
      if (!instance || !client) return undefined;
      return () => stopRemote(state.drive, { task, client, instance });
    },
  };
}
