import type { TrainRequest } from "../training/train-request.js";
import type { DriveContext, DriveTarget } from "./drive-context.js";

/** Asks the plugin to stop a training's external job; failures are logged, not thrown. */
export async function stopRemote(
  ctx: DriveContext,
  { task, client, instance }: DriveTarget,
): Promise<void> {
  const request: TrainRequest = {
    data: task.trainPluginInput ?? task.input,
    context: ctx.contextOf(instance.id),
    status: task.remoteStatus ?? { taskId: task.taskId, state: "running" },
    save: task.save,
  };
  try {
    await client.cancelTraining(request, {
      stateDir: ctx.modelDir(task.taskId),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    ctx.logger.warn(`[runtime] Could not stop the plugin's job of task ${task.taskId}`, error);
  }
}
