import {
  httpStatusForCode,
  RemoteError,
  type Task,
  TrainableError,
  type TrainableErrorCode,
  ValidationError,
  type ValidationIssue,
} from "@trainable/core";

/** An error as the HTTP handler sends it: a failed task and `{ code, message }`. No stack, no cause. */
export interface ErrorBody {
  status: Task;
  error: {
    code: TrainableErrorCode;
    message: string;
    /** For `VALIDATION`: every bad field. */
    issues?: ValidationIssue[];
    /** For `REMOTE`: whether trying again may help. */
    retryable?: boolean;
  };
}

/** The message of every error that is not a `TrainableError` (its details go to the server log only). */
export const INTERNAL_ERROR_MESSAGE =
  "[runtime] Internal error: the plugin failed unexpectedly (details are in the server log)";

/**
 * Maps any thrown value to an HTTP status and an {@link ErrorBody}. A `TrainableError` keeps
 * its code and message; anything else becomes a generic `INTERNAL` error, so stacks, causes
 * and whatever secrets they hold never leave the server.
 */
export function errorBody(
  error: unknown,
  taskId?: string,
): { httpStatus: number; body: ErrorBody } {
  let code: TrainableErrorCode = "INTERNAL";
  let message = INTERNAL_ERROR_MESSAGE;
  const extra: Pick<ErrorBody["error"], "issues" | "retryable"> = {};
  if (TrainableError.isInstance(error)) {
    code = error.code;
    message = error.message;
    if (ValidationError.isInstance(error) && error.issues.length > 0) extra.issues = error.issues;
    if (RemoteError.isInstance(error)) extra.retryable = error.retryable;
  }
  const at = new Date().toISOString();
  const status: Task = {
    state: "failed",
    statusMessage: message,
    statusCode: code,
    updatedAt: at,
    finishedAt: at,
  };
  if (taskId !== undefined) status.taskId = taskId;
  return {
    httpStatus: httpStatusForCode(code),
    body: { status, error: { code, message, ...extra } },
  };
}
