import { CancelledError } from "./cancelled-error.js";
import { ConflictError } from "./conflict-error.js";
import { IntegrityError } from "./integrity-error.js";
import { NotFoundError } from "./not-found-error.js";
import { RemoteError } from "./remote-error.js";
import { TimeoutError } from "./timeout-error.js";
import {
  TrainableError,
  type TrainableErrorCode,
  type TrainableErrorOptions,
} from "./trainable-error.js";
import { TrainingError } from "./training-error.js";
import { UnauthorizedError } from "./unauthorized-error.js";
import { ValidationError, type ValidationIssue } from "./validation-error.js";

/** What a serialized error may carry besides its code and message. */
export interface ErrorDetails extends TrainableErrorOptions {
  /** For `VALIDATION`: the bad fields. */
  issues?: ValidationIssue[];
  /** For `REMOTE`: the HTTP status the remote answered. */
  status?: number;
  /** For `REMOTE`: whether trying again may succeed. */
  retryable?: boolean;
}

type Build = (message: string, details: ErrorDetails) => TrainableError;

/**
 * The one table from error code to error class. A `Record` over the closed union, so a new
 * code does not compile until it has its row here.
 */
const ERROR_BY_CODE: Readonly<Record<TrainableErrorCode, Build>> = {
  VALIDATION: (m, d) => new ValidationError(m, { cause: d.cause, issues: d.issues ?? [] }),
  NOT_FOUND: (m, d) => new NotFoundError(m, d),
  UNAUTHORIZED: (m, d) => new UnauthorizedError(m, d),
  CONFLICT: (m, d) => new ConflictError(m, { cause: d.cause }),
  INTEGRITY: (m, d) => new IntegrityError(m, d),
  REMOTE: (m, d) =>
    new RemoteError(m, { cause: d.cause, status: d.status, retryable: d.retryable === true }),
  TRAINING: (m, d) => new TrainingError(m, d),
  CANCELLED: (m, d) => new CancelledError(m, d),
  TIMEOUT: (m, d) => new TimeoutError(m, d),
  NOT_SUPPORTED: (m, d) => new TrainableError("NOT_SUPPORTED", m, d),
  INTERNAL: (m, d) => new TrainableError("INTERNAL", m, d),
};

/** Every error code, in the order of {@link TrainableErrorCode}. */
export const TRAINABLE_ERROR_CODES: readonly TrainableErrorCode[] = Object.freeze(
  Object.keys(ERROR_BY_CODE) as TrainableErrorCode[],
);

/** True when `value` is one of the {@link TRAINABLE_ERROR_CODES}. */
export function isTrainableErrorCode(value: unknown): value is TrainableErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_BY_CODE, value);
}

/**
 * Rebuilds the typed error for `code` (e.g. from an HTTP error body): `VALIDATION` gives a
 * `ValidationError` with `details.issues`, `REMOTE` a `RemoteError` with `status` and
 * `retryable`, and so on; `isInstance` checks hold on the result.
 */
export function errorFromCode(
  code: TrainableErrorCode,
  message: string,
  details: ErrorDetails = {},
): TrainableError {
  const build = ERROR_BY_CODE[code] ?? ERROR_BY_CODE.INTERNAL;
  return build(message, details);
}
