import { type Id, isFinalTaskState, RemoteError } from "@trainable/core";
import type { TrainResponse } from "../training/create-training-coordinator.js";
import type { IssuedTaskTable } from "./issued-tasks.js";

export interface SettleIssuedTaskOptions {
  /** The task answered for; undefined: nothing to record. */
  taskId: Id | undefined;
  instanceId: Id;
  /** The answer, when the call answered. */
  response?: TrainResponse;
  /** What the call threw, when it did. */
  error?: unknown;
  /** Whether the call was interrupted (the request went away, or the task was cancelled). */
  interrupted: boolean;
}

/**
 * Keeps the issued-task table in step with a train or status-check answer: a final answer
 * ends the task, a running one records the `remoteStatusInput` to check next; an interrupted
 * call or a transient failure keeps the task (the client may retry or cancel), any other
 * failure ended it.
 */
export async function settleIssuedTask(
  tasks: IssuedTaskTable,
  options: SettleIssuedTaskOptions,
): Promise<void> {
  const { taskId, response, error } = options;
  if (taskId === undefined) return;
  if (response) {
    if (isFinalTaskState(response.status.state)) await tasks.end(taskId);
    else
      await tasks.issue({
        taskId,
        instanceId: options.instanceId,
        remoteStatusInput: response.status.remoteStatusInput,
      });
    return;
  }
  if (!(options.interrupted || (RemoteError.isInstance(error) && error.retryable))) {
    await tasks.end(taskId).catch(() => {});
  }
}
