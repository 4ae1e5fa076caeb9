export { CancelledError } from "./cancelled-error.js";
export { ConflictError } from "./conflict-error.js";
export {
  type ErrorDetails,
  errorFromCode,
  isTrainableErrorCode,
  TRAINABLE_ERROR_CODES,
} from "./error-from-code.js";
export { HTTP_STATUS_BY_CODE, httpStatusForCode } from "./http-status.js";
export { IntegrityError } from "./integrity-error.js";
export { NotFoundError } from "./not-found-error.js";
export { RemoteError } from "./remote-error.js";
export { TimeoutError } from "./timeout-error.js";
export {
  TrainableError,
  type TrainableErrorCode,
  type TrainableErrorOptions,
} from "./trainable-error.js";
export { TrainingError } from "./training-error.js";
export { UnauthorizedError } from "./unauthorized-error.js";
export { formatIssuePath, ValidationError, type ValidationIssue } from "./validation-error.js";
