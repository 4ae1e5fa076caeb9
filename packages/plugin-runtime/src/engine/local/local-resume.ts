import { isFinalTaskState } from "@trainable/core";
import type { PluginClient } from "../../client/plugin-client.js";
import { finish } from "../finish.js";
import type { ResumeResult } from "../local-engine.js";
import { type TaskLock, takeTaskLock } from "../task-lock.js";
import type { TrainingTask } from "../training-task.js";
import { launchTask } from "./launch-task.js";
import type { LocalEngineState } from "./local-engine-state.js";

/**
 * `engine.resume`: picks up every unfinished task no one drives (a live driver — another
 * engine, `trainable train` — keeps its own), from wherever its record says it stopped.
 */
export async function resumeTasks(state: LocalEngineState): Promise<ResumeResult> {
  state.assertOpen();
  const result: ResumeResult = { resumed: [], interrupted: [], skipped: [] };
  // Tasks another process wrote since this engine loaded its log.
  for (const task of (await state.taskLog.loadTasks()).tasks) {
    if (!state.active.has(task.taskId)) state.tasks.set(task.taskId, task);
  }
  for (const task of state.tasks.values()) {
    if (isFinalTaskState(task.state) || state.active.has(task.taskId)) continue;
    const client = state.plugins.get(task.plugin);
    if (!client) {
      result.skipped.push({
        taskId: task.taskId,
        reason: `plugin "${task.plugin}" is not registered`,
      });
      continue;
    }
    const taken = await takeTaskLock(state.taskLog.taskDir(task.taskId));
    if ("heldBy" in taken) {
      result.skipped.push({ taskId: task.taskId, reason: `driven by ${taken.heldBy}` });
      continue;
    }
    const outcome = await resumeLocked(state, { task, client, lock: taken.lock });
    if (outcome) result[outcome].push(task.taskId);
  }
  return result;
}

/** Resumes one task under its lock; says whether it was resumed, interrupted, or neither. */
async function resumeLocked(
  state: LocalEngineState,
  { task, client, lock }: { task: TrainingTask; client: PluginClient; lock: TaskLock },
): Promise<"resumed" | "interrupted" | undefined> {
  // Read again under the lock: the last driver may have moved it on before it stopped.
  const fresh = (await state.taskLog.loadTasks()).tasks.find((t) => t.taskId === task.taskId);
  if (fresh) {
    Object.assign(task, fresh);
    state.tasks.set(task.taskId, task);
  }
  if (isFinalTaskState(task.state)) {
    await lock.release();
    return undefined;
  }
  const instance = state.instances.get(task.instanceId);
  const polling = task.remoteStatus !== undefined && !isFinalTaskState(task.remoteStatus.state);
  const failure = !instance
    ? {
        code: "NOT_FOUND",
        message: `[runtime] Plugin instance "${task.instanceId}" no longer exists`,
      }
    : task.state === "running" && task.phase === undefined && !polling
      ? // A record from before write-ahead phases: whether its train call ran (and saved)
        // cannot be known, so it is not silently repeated.
        {
          code: "INTERNAL",
          message:
            "[runtime] Interrupted: the engine stopped while the plugin's train call was in flight (recorded by an older version); train again",
        }
      : undefined;
  if (!instance || failure) {
    await finish(state.drive, task, { state: "failed", error: failure });
    await state.taskLog.flush();
    await lock.release();
    return "interrupted";
  }
  // Wherever it stopped: a train call that may have been in flight is repeated as a retry
  // (the plugin continues that training), status checks go on from the last one.
  launchTask(state, { task, client, instance, lock });
  return "resumed";
}
