import { NotFoundError } from "@trainable/core";
import { remoteStatusDigest } from "./issued-task-digest.js";
import type { IssuedTask } from "./issued-tasks.js";

const VERBS = { check: "check on", cancel: "cancel", retry: "retry" } as const;

/** What a status check, cancel or repeated train call names. */
export interface IssuedTaskQuery {
  taskId: string;
  instanceId: string;
  /** The status the caller sends back; undefined: none. */
  remoteStatusInput: unknown;
  /** What the caller does (for the message). */
  action: keyof typeof VERBS;
}

/** Throws the `NotFoundError` for a `remoteStatusInput` this server never answered. */
export function notIssued(taskId: string, action: keyof typeof VERBS): never {
  throw new NotFoundError(
    `[runtime] Training task "${taskId}": this server never answered that status.remoteStatusInput, so it will not ${VERBS[action]} it (send back the status this server answered)`,
  );
}

/**
 * Throws `NotFoundError` unless `task` (the record of `query.taskId`, if any) was started for
 * `query.instanceId`, answered the `remoteStatusInput` sent back (when one is), and — for a
 * cancel — has not ended.
 */
export function checkIssuedTask(task: IssuedTask | undefined, query: IssuedTaskQuery): void {
  const { taskId, instanceId, action } = query;
  if (!task) {
    throw new NotFoundError(
      `[runtime] No training task "${taskId}" to ${VERBS[action]}: this server did not start it, or it is over (a status check or cancel must name a task this server's POST /train started, and send back the status it answered)`,
    );
  }
  if (task.instanceId !== instanceId) {
    throw new NotFoundError(
      `[runtime] No training task "${taskId}" of plugin instance "${instanceId}" to ${VERBS[action]}: this server did not start one`,
    );
  }
  if (
    query.remoteStatusInput !== undefined &&
    !task.issued.includes(remoteStatusDigest(query.remoteStatusInput))
  ) {
    notIssued(taskId, action);
  }
  if (task.endedAt !== undefined && action === "cancel") {
    throw new NotFoundError(
      `[runtime] Training task "${taskId}" is over (it ended at ${task.endedAt}): nothing to cancel`,
    );
  }
}
