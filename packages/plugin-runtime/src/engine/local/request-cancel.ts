import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  checkOptionsObject,
  type Id,
  isFinalTaskState,
  NotFoundError,
  validateId,
} from "@trainable/core";
import { systemClock } from "../clock.js";
import { consoleLogger } from "../console-logger.js";
import type { DriveContext, EngineLogger } from "../drive-context.js";
import { finish } from "../finish.js";
import { takeTaskLock } from "../task-lock.js";
import { createTaskLog, type TaskLog } from "../task-log.js";
import type { TrainingTask } from "../training-task.js";
import { writeCancelRequest } from "./cancel-request.js";
import { resolveDataDir } from "./local-engine-state.js";

/** What a cancel request did. */
export interface CancelRequestAnswer {
  /** The task as it is now: `cancelled` when it was ended (or had ended already). */
  task: TrainingTask;
  /**
   * `true`: the task still runs and the request waits in its folder — a live process drives
   * it (and cancels it within a second), or its plugin's job can only be stopped by the next
   * engine that resumes it with its plugin registered.
   */
  requested: boolean;
}

/** The message of a training cancelled on another process's request. */
export const CANCEL_REQUESTED = "[runtime] Training cancelled: requested by another process";

/** Where a cancel is requested: the task log, how tasks are recorded, who can stop a job. */
export interface CancelSite {
  taskLog: TaskLog;
  drive: Pick<DriveContext, "hooks" | "clock" | "modelDir" | "record">;
  /** Stops the task's external job, when this caller has its plugin (else `undefined`). */
  jobStopper(task: TrainingTask): (() => Promise<void>) | undefined;
}

/** Records a task no one drives as cancelled, stopping its plugin's job first when it can. */
export async function endCancelled(
  site: CancelSite,
  task: TrainingTask,
  message: string,
): Promise<TrainingTask> {
  await site.jobStopper(task)?.();
  return finish(site.drive, task, { state: "cancelled", error: { code: "CANCELLED", message } });
}

/**
 * Requests the cancel of task `taskId`: writes the request beside its record (its driver,
 * watching for it, cancels it), then — when no live process drives it — ends it here under
 * its driver lock, as that driver would have: its plugin's job stopped, recorded `cancelled`.
 * A job only its plugin can stop, when this caller lacks the plugin, is left requested.
 */
export async function requestCancelAt(site: CancelSite, taskId: Id): Promise<CancelRequestAnswer> {
  const taskDir = site.taskLog.taskDir(taskId);
  const task = await readKnownTask(site.taskLog, taskId);
  if (isFinalTaskState(task.state)) return { task, requested: false };
  await writeCancelRequest(taskDir, site.drive.clock.now());
  const taken = await takeTaskLock(taskDir);
  if ("heldBy" in taken) return { task, requested: true };
  try {
    // Read again under the lock: its last driver may have moved it on before it stopped.
    const fresh = await readKnownTask(site.taskLog, taskId);
    if (isFinalTaskState(fresh.state)) return { task: fresh, requested: false };
    const polling = fresh.remoteStatus !== undefined && !isFinalTaskState(fresh.remoteStatus.state);
    if (polling && !site.jobStopper(fresh)) return { task: fresh, requested: true };
    return { task: await endCancelled(site, fresh, CANCEL_REQUESTED), requested: false };
  } finally {
    await site.taskLog.flush();
    await taken.lock.release();
  }
}

async function readKnownTask(taskLog: TaskLog, taskId: string): Promise<TrainingTask> {
  const task = await taskLog.readTask(taskId);
  if (!task) throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
  return task;
}

/**
 * Requests the cancel of a training of the local engine on `dataDir` from any process (the
 * dashboard): see `CancelRequestAnswer`. Without a plugin at hand, a task whose plugin runs
 * an external job is left requested for the engine that resumes it. Throws when the task,
 * ended here, could not be recorded as cancelled: its record still says running, and the
 * request left in its folder has the engine that resumes it cancel it before calling its
 * plugin.
 */
export async function requestLocalCancel(options: {
  dataDir: string;
  taskId: string;
  logger?: EngineLogger;
}): Promise<CancelRequestAnswer> {
  checkOptionsObject(options, {
    component: "runtime",
    call: "requestLocalCancel",
    expected: "({ dataDir, taskId })",
  });
  const dataDir = resolveDataDir(options.dataDir);
  const taskId = validateId(options.taskId, "taskId");
  // Before the task log is opened (it creates its folders): an unknown dataDir is not made.
  if (!(await stat(join(dataDir, "tasks", taskId)).catch(() => undefined))?.isDirectory()) {
    throw new NotFoundError(`[runtime] Unknown task "${taskId}"`);
  }
  const logger = options.logger ?? consoleLogger;
  // The task log reports a failed write (and goes on); this call, which writes one task once,
  // must not answer as if the cancel was recorded: the failure is thrown from `record`.
  let writeFailure: { error: unknown } | undefined;
  const taskLog = await createTaskLog(dataDir, (message, error) => {
    writeFailure ??= { error };
    logger.error(message, error);
  });
  return requestCancelAt(
    {
      taskLog,
      drive: {
        clock: systemClock,
        hooks: {},
        modelDir: (id) => taskLog.modelDir(id),
        record: async (task) => {
          task.updatedAt = systemClock.now().toISOString();
          await taskLog.writeTask(task);
          if (writeFailure) throw writeFailure.error;
        },
      },
      jobStopper: () => undefined,
    },
    taskId,
  );
}
