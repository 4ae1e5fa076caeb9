import { CancelledError, ConflictError, isFinalTaskState, NotFoundError } from "@trainable/core";
import { finish } from "../finish.js";
import { stopRemote } from "../stop-remote.js";
import { takeTaskLock } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import type { LocalEngineState } from "./local-engine-state.js";

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
  const { lock } = taken;
  try {
    const instance = state.instances.get(task.instanceId);
    const client = state.plugins.get(task.plugin);
    if (instance && client) await stopRemote(state.drive, { task, client, instance });
    return await finish(state.drive, task, {
      state: "cancelled",
      error: { code: "CANCELLED", message: "[runtime] Training cancelled" },
    });
  } finally {
    await state.taskLog.flush();
    await lock.release();
  }
}
