import { parseWith, TrainPluginInput } from "@trainable/core";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import { mergeTrainingParameters } from "../training/merge-training-parameters.js";
import { raceSignal } from "../util/race-signal.js";
import { type DriveRun, givesUp } from "./drive-run.js";
import { nextPollDelay } from "./poll-policy.js";

/**
 * The training's `train` call, written ahead as `phase: "training"`: first the plugin's
 * training parameters (once, recorded as the merged `trainPluginInput`), then the call. A
 * call that was in flight when the last driver stopped, or that fails transiently, is
 * repeated as a retry: the plugin side continues the same training, never a second one.
 */
export async function firstTrainCall(run: DriveRun): Promise<TrainResponse> {
  const { ctx, task } = run;
  if (task.trainPluginInput === undefined) await fetchParameters(run);
  const repeated = task.phase === "training";
  task.phase = "training";
  task.state = "running";
  task.attempts = (task.attempts ?? 0) + 1;
  await ctx.record(task);
  await ctx.hooks.at?.("before-train", task);
  let failingSince = 0;
  let response: TrainResponse;
  for (let failures = 0; ; failures++) {
    try {
      response = await run.callTrain({
        status: { taskId: task.taskId, state: "waiting" },
        isStatusCheck: false,
        ...(repeated || failures > 0 ? { retry: true } : {}),
      });
      break;
    } catch (error) {
      if (failures === 0) failingSince = ctx.clock.now().getTime();
      if (givesUp(run, { error, failures: failures + 1, since: failingSince })) throw error;
      ctx.logger.warn(`[runtime] Train call of task ${task.taskId} failed; repeating it`, error);
      task.attempts = (task.attempts ?? 0) + 1;
      await ctx.record(task);
      await ctx.clock.sleep(nextPollDelay(ctx.policy, failures), run.signal);
    }
  }
  await ctx.hooks.at?.("after-train", task, response);
  return response;
}

async function fetchParameters(run: DriveRun): Promise<void> {
  const { ctx, task, signal } = run;
  task.state = "running";
  task.startedAt ??= ctx.clock.now().toISOString();
  await ctx.record(task, "started");
  const params = await raceSignal(
    run.client.getTrainingParameters(
      { data: task.input, context: ctx.contextOf(run.instance.id) },
      { signal },
    ),
    signal,
    "Training",
  );
  task.trainingParameters = params;
  task.trainPluginInput = parseWith(
    TrainPluginInput,
    mergeTrainingParameters(task.input, params),
    "training parameters merged with the plugin's answer",
    "runtime",
  );
  task.phase = "parameters";
  await ctx.record(task, "parameters");
}
