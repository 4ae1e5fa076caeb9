import {
  errorFromCode,
  isTrainableErrorCode,
  RemoteError,
  type TrainableError,
  type ValidationIssue,
} from "@trainable/core";

interface BodyError {
  code?: unknown;
  message?: unknown;
  issues?: unknown;
  retryable?: unknown;
}

/**
 * Rebuilds the typed error a plugin server answered with (`{ error: { code, message } }`),
 * so a remote plugin fails the same way as an in-process one. The error class comes from
 * core's one code table (`errorFromCode`); a body without a known code is a `RemoteError`,
 * retryable for a 5xx.
 */
export function errorFromBody(httpStatus: number, body: unknown, url: string): TrainableError {
  const error = (body as { error?: BodyError } | null)?.error;
  const code = error?.code;
  const message =
    typeof error?.message === "string"
      ? error.message
      : `[runtime] ${url} answered HTTP ${httpStatus} without an error message`;
  if (!isTrainableErrorCode(code)) {
    return new RemoteError(message, { status: httpStatus, retryable: httpStatus >= 500 });
  }
  return errorFromCode(code, message, {
    issues: Array.isArray(error?.issues) ? (error.issues as ValidationIssue[]) : [],
    status: httpStatus,
    retryable: error?.retryable === true,
  });
}
