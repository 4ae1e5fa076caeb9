import {
  CancelledError,
  ConflictError,
  IntegrityError,
  NotFoundError,
  RemoteError,
  TimeoutError,
  TrainableError,
  type TrainableErrorCode,
  TrainingError,
  UnauthorizedError,
  ValidationError,
  type ValidationIssue,
} from "@trainable/core";

const CODES = new Set<string>([
  "VALIDATION",
  "NOT_FOUND",
  "UNAUTHORIZED",
  "CONFLICT",
  "INTEGRITY",
  "REMOTE",
  "TRAINING",
  "CANCELLED",
  "TIMEOUT",
  "NOT_SUPPORTED",
  "INTERNAL",
]);

interface BodyError {
  code?: unknown;
  message?: unknown;
  issues?: unknown;
  retryable?: unknown;
}

/**
 * Rebuilds the typed error a plugin server answered with (`{ error: { code, message } }`),
 * so a remote plugin fails the same way as an in-process one.
 */
export function errorFromBody(httpStatus: number, body: unknown, url: string): TrainableError {
  const error = (body as { error?: BodyError } | null)?.error;
  const rawCode = typeof error?.code === "string" ? error.code : undefined;
  const message =
    typeof error?.message === "string"
      ? error.message
      : `[runtime] ${url} answered HTTP ${httpStatus} without an error message`;
  if (!rawCode || !CODES.has(rawCode)) {
    return new RemoteError(message, { status: httpStatus, retryable: httpStatus >= 500 });
  }
  const code = rawCode as TrainableErrorCode;
  switch (code) {
    case "VALIDATION":
      return new ValidationError(message, {
        issues: Array.isArray(error?.issues) ? (error.issues as ValidationIssue[]) : [],
      });
    case "NOT_FOUND":
      return new NotFoundError(message);
    case "UNAUTHORIZED":
      return new UnauthorizedError(message);
    case "CONFLICT":
      return new ConflictError(message);
    case "INTEGRITY":
      return new IntegrityError(message);
    case "REMOTE":
      return new RemoteError(message, { status: httpStatus, retryable: error?.retryable === true });
    case "TRAINING":
      return new TrainingError(message);
    case "CANCELLED":
      return new CancelledError(message);
    case "TIMEOUT":
      return new TimeoutError(message);
    default:
      return new TrainableError(code, message);
  }
}
