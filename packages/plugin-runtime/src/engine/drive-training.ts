import { CancelledError, isFinalTaskState, TimeoutError, TrainableError } from "@trainable/core";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { abortError } from "../util/race-signal.js";
import { CLOSING, type DriveContext, type DriveTarget } from "./drive-context.js";
import { createDriveRun, type DriveRun } from "./drive-run.js";
import { errorInfo } from "./error-info.js";
import { finish } from "./finish.js";
import { firstTrainCall } from "./first-train-call.js";
import { pollStatus } from "./poll-status.js";
import { stopRemote } from "./stop-remote.js";
import type { TrainingTask } from "./training-task.js";

export interface DriveOptions extends DriveTarget {
  /** Aborting it stops the driver: `CLOSING` leaves the task as it is, else it is cancelled. */
  controller: AbortController;
}

/**
 * Drives one training from wherever its record says it is to a final state, recording
 * before every effect (write-ahead): `phase: "training"` before each `train` call, the
 * plugin's `running` status before the next check. A driver that stops anywhere (a crash, a
 * kill, `close()`) leaves a record from which the next one resumes exactly: a `train` call
 * that may have been in flight is repeated with `retry` (the plugin reattaches to its job,
 * or answers the save it already made), status checks continue from the last status. A
 * non-retryable status-check failure stops the plugin's job before the task fails.
 */
export async function driveTraining(
  ctx: DriveContext,
  options: DriveOptions,
): Promise<TrainingTask> {
  const { task, controller } = options;
  const run = createDriveRun(ctx, options, controller.signal);
  const finished = new AbortController();
  const remaining = Date.parse(task.deadline) - ctx.clock.now().getTime();
  ctx.clock.sleep(Math.max(0, remaining), finished.signal).then(
    () =>
      controller.abort(
        new TimeoutError(
          `[runtime] Training ${task.taskId} timed out: it did not finish by ${task.deadline}`,
        ),
      ),
    () => {},
  );
  try {
    await ctx.ensureRegistered(run.client, run.instance);
    if (
      task.phase !== "training" &&
      task.remoteStatus !== undefined &&
      !isFinalTaskState(task.remoteStatus.state)
    ) {
      // Resuming status checks; the first one repeats a check whose answer may be lost.
      const resumed: TrainResponse = { status: task.remoteStatus };
      return await pollStatus(run, resumed, true);
    }
    return await pollStatus(run, await firstTrainCall(run), false);
  } catch (error) {
    return stopped(run, error);
  } finally {
    finished.abort();
  }
}

/** Records how a driver that threw ended: closing, cancelled, timed out or failed. */
async function stopped(run: DriveRun, error: unknown): Promise<TrainingTask> {
  const { ctx, task, signal } = run;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason === CLOSING) return structuredClone(task);
    await stopRemote(ctx, run);
    if (TimeoutError.isInstance(reason)) {
      return finish(ctx, task, {
        state: "failed",
        error: { code: reason.code, message: reason.message },
      });
    }
    const cancelled = CancelledError.isInstance(reason)
      ? reason
      : abortError(signal, "[runtime] Training");
    return finish(ctx, task, { state: "cancelled", error: errorInfo(cancelled, task.plugin) });
  }
  if (!TrainableError.isInstance(error)) {
    ctx.logger.error(`[runtime] Training ${task.taskId} failed unexpectedly`, error);
  }
  // Giving up on a job that may still run: stop it first, so nothing is left training.
  if (run.polling) await stopRemote(ctx, run);
  return finish(ctx, task, { state: "failed", error: errorInfo(error, task.plugin) });
}
