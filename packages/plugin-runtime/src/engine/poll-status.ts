import type { TrainResponse } from "../training/create-training-coordinator.js";
import { type DriveRun, givesUp } from "./drive-run.js";
import { finish } from "./finish.js";
import { nextPollDelay } from "./poll-policy.js";
import type { TrainingTask } from "./training-task.js";

/**
 * Checks the training's status until the plugin answers a final state, then records it.
 * Each `running` answer is recorded (write-ahead) before the next check, paced by the
 * plugin's `retryAfterMs` or backoff; transient failures are retried within the poll policy.
 * With `retry`, the first check repeats one whose answer may have been lost (at once).
 */
export async function pollStatus(
  run: DriveRun,
  first: TrainResponse,
  retry: boolean,
): Promise<TrainingTask> {
  const { ctx, task } = run;
  let response = first;
  let attempt = 0;
  let errors = 0;
  let failingSince = 0;
  for (;;) {
    const state = response.status.state;
    if (state === "succeeded" || state === "failed" || state === "cancelled") {
      return await finish(ctx, task, { state, response });
    }
    run.polling = true;
    if (!retry || attempt > 0) {
      task.remoteStatus = response.status;
      task.phase = "polling";
      if (response.status.statusMessage) task.statusMessage = response.status.statusMessage;
      await ctx.record(task, "status");
    }
    const wait =
      retry && attempt === 0 && errors === 0
        ? 0
        : errors > 0
          ? nextPollDelay(ctx.policy, errors - 1)
          : nextPollDelay(ctx.policy, attempt, response.status.retryAfterMs);
    if (wait > 0) await ctx.clock.sleep(wait, run.signal);
    try {
      await ctx.hooks.at?.("before-status-check", task);
      response = await run.callTrain({
        status: task.remoteStatus ?? response.status,
        isStatusCheck: true,
        ...(retry && attempt === 0 ? { retry: true } : {}),
      });
      await ctx.hooks.at?.("after-status-check", task, response);
      task.statusChecks++;
      errors = 0;
      attempt++;
    } catch (error) {
      if (errors === 0) failingSince = ctx.clock.now().getTime();
      if (givesUp(run, { error, failures: errors + 1, since: failingSince })) throw error;
      errors++;
      task.statusChecks++;
      ctx.logger.warn(`[runtime] Status check of task ${task.taskId} failed; retrying`, error);
    }
  }
}
