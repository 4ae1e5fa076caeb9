import { rm } from "node:fs/promises";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { DriveContext } from "./drive-context.js";
import type { TrainingTask } from "./training-task.js";

/** How a training ended: its final state, with the plugin's answer or the error. */
export interface FinishDetails {
  state: "succeeded" | "failed" | "cancelled";
  response?: TrainResponse;
  error?: { code: string; message: string };
}

/** Records a final state (once), removing the in-training model's folder. */
export async function finish(
  ctx: Pick<DriveContext, "hooks" | "clock" | "modelDir" | "record">,
  task: TrainingTask,
  details: FinishDetails,
): Promise<TrainingTask> {
  const { state, response } = details;
  await ctx.hooks.at?.("before-finish", task, response);
  task.state = state;
  task.phase = "finished";
  task.finishedAt = ctx.clock.now().toISOString();
  if (state === "succeeded" && response) recordSuccess(task, response);
  else recordFailure(task, details);
  await rm(ctx.modelDir(task.taskId), { recursive: true, force: true }).catch(() => {});
  await rm(`${ctx.modelDir(task.taskId)}.previous`, { recursive: true, force: true }).catch(
    () => {},
  );
  await ctx.record(task, "finished");
  return structuredClone(task);
}

function recordSuccess(task: TrainingTask, response: TrainResponse): void {
  task.output = response.data ?? {};
  if (task.output.trainingProgress) task.progress = task.output.trainingProgress;
  const saved = response.status.output as
    | { handle?: string; digest?: string; archivePath?: string; setAsDefault?: boolean }
    | undefined;
  const archivePath = task.output.archivePath ?? saved?.archivePath;
  if (archivePath) {
    // The handle the plugin side reports it saved to (a self-saving plugin may have chosen
    // its own); without a report, the one asked.
    const handle = saved ? saved.handle : task.save.handle;
    task.checkpoint = {
      ...(handle !== undefined ? { handle } : {}),
      archivePath,
      ...(saved?.digest ? { digest: saved.digest } : {}),
      ...(saved?.setAsDefault !== undefined ? { setAsDefault: saved.setAsDefault } : {}),
    };
  }
  task.statusMessage = response.status.statusMessage ?? "Training succeeded";
  task.error = undefined;
}

function recordFailure(task: TrainingTask, { state, response, error }: FinishDetails): void {
  const recorded = error ?? {
    code: response?.status.statusCode ?? (state === "cancelled" ? "CANCELLED" : "TRAINING"),
    message:
      response?.status.statusMessage ??
      (state === "cancelled" ? "[runtime] Training cancelled" : "[runtime] Training failed"),
  };
  task.error = recorded;
  task.statusMessage = recorded.message;
  if (response?.status) task.remoteStatus = response.status;
}
