import type { TrainableErrorCode } from "./trainable-error.js";

/** The one table mapping error codes to HTTP statuses (used by the plugin HTTP handler). */
export const HTTP_STATUS_BY_CODE: Readonly<Record<TrainableErrorCode, number>> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  CONFLICT: 409,
  INTEGRITY: 502,
  REMOTE: 502,
  TRAINING: 500,
  CANCELLED: 409,
  TIMEOUT: 504,
  NOT_SUPPORTED: 501,
  INTERNAL: 500,
};

export function httpStatusForCode(code: TrainableErrorCode): number {
  return HTTP_STATUS_BY_CODE[code] ?? 500;
}
