import { isFinalTaskState, type PostUpdate } from "@trainable/core";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { TrainRequest } from "../training/train-request.js";
import { raceSignal } from "../util/race-signal.js";
import type { DriveContext, DriveTarget } from "./drive-context.js";
import { isTransient } from "./error-info.js";
import { shouldGiveUp } from "./poll-policy.js";

/** One driver's run of a training: what its calls to the plugin share. */
export interface DriveRun extends DriveTarget {
  ctx: DriveContext;
  signal: AbortSignal;
  /** The in-training model's folder of the task. */
  stateDir: string;
  /** Records a post-update of the plugin (emitted at once, written coalesced). */
  onUpdate(update: PostUpdate): void;
  /** Calls the plugin's `train` for the task (a train call or a status check). */
  callTrain(
    extra: Pick<TrainRequest, "status" | "isStatusCheck" | "retry">,
  ): Promise<TrainResponse>;
  /** Set once the plugin answered `running`: its job may then be left to stop. */
  polling: boolean;
}

export function createDriveRun(ctx: DriveContext, target: DriveTarget, signal: AbortSignal) {
  const { task, instance } = target;
  const run: DriveRun = {
    ...target,
    ctx,
    signal,
    stateDir: ctx.modelDir(task.taskId),
    polling: false,
    // Each update is emitted at once; the task log coalesces the writes (while one is on its
    // way to disk, only the latest version is written next).
    onUpdate(update) {
      if (isFinalTaskState(task.state)) return;
      task.updates.push({ at: ctx.clock.now().toISOString(), update });
      if (task.updates.length > ctx.maxUpdates) {
        task.updates.splice(0, task.updates.length - ctx.maxUpdates);
      }
      if (update.output?.trainingProgress) task.progress = update.output.trainingProgress;
      if (update.statusMessage !== undefined) task.statusMessage = update.statusMessage;
      void ctx.record(task, "update", update).catch(() => {});
    },
    callTrain(extra) {
      const request: TrainRequest = {
        data: task.trainPluginInput ?? task.input,
        context: ctx.contextOf(instance.id),
        save: task.save,
        ...extra,
      };
      const { signal, onUpdate, stateDir } = run;
      return raceSignal(
        target.client.train(request, { signal, onUpdate, stateDir }),
        signal,
        "Training",
      );
    },
  };
  return run;
}

/**
 * Whether a failed call is given up (thrown) rather than repeated: the run was stopped, the
 * failure is not transient, or the poll policy's tolerance (`failures` in a row, the first at
 * `since` ms) is spent.
 */
export function givesUp(
  run: DriveRun,
  { error, failures, since }: { error: unknown; failures: number; since: number },
): boolean {
  return (
    run.signal.aborted ||
    !isTransient(error) ||
    shouldGiveUp(run.ctx.policy, { failures, since, now: run.ctx.clock.now().getTime() })
  );
}
