import {
  CancelledError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import type { OperationContext } from "../define-backend.js";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import { S3_BACKEND_NAME } from "./s3-options.js";

const COMPONENT = S3_BACKEND_NAME;

/** Maps an SDK error (or a network error under it) to the storage error family. */
export type S3ErrorMapper = (error: unknown, context: OperationContext) => Error;

export interface S3ErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

export function statusOf(error: unknown): number | undefined {
  return (error as S3ErrorLike | undefined)?.$metadata?.httpStatusCode;
}

export function codeOf(error: unknown): string {
  const e = error as S3ErrorLike | undefined;
  return e?.Code ?? e?.code ?? e?.name ?? "UnknownError";
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const THROTTLING_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequests",
  "RequestLimitExceeded",
  "ServiceUnavailable",
]);

/**
 * Errors: 404 → `NotFoundError`; 403 → `RemoteError` (not retryable) asking to check the
 * credentials; 412 → `PreconditionFailedError`; 416 → `ValidationError`; throttling, 5xx and
 * network errors → `RemoteError` (retryable) after the SDK's own retries; an aborted signal →
 * `CancelledError`. Messages never hold secrets.
 */
export function createS3ErrorMapper(where: { bucket: string; description: string }): S3ErrorMapper {
  const { bucket, description } = where;
  return function mapError(error, { op, key, signal }) {
    if (TrainableError.isInstance(error)) return error;
    const name = (error as S3ErrorLike | undefined)?.name;
    if (name === "AbortError" || signal?.aborted) {
      return new CancelledError(`[storage] [${COMPONENT}] ${op} "${key}" cancelled`, {
        cause: error,
      });
    }
    const status = statusOf(error);
    const code = codeOf(error);
    const target = `${op} "${key}" on ${description}`;
    if (code === "NoSuchBucket") {
      return new RemoteError(
        `[storage] [${COMPONENT}] ${target} failed: bucket "${bucket}" does not exist (create it, or pass createBucket: true)`,
        { cause: error, retryable: false, status },
      );
    }
    if (status === 404 || code === "NoSuchKey" || code === "NotFound") {
      return new NotFoundError(`[storage] [${COMPONENT}] No object at "${key}"`, { cause: error });
    }
    if (status === 412 || code === "PreconditionFailed") return new PreconditionFailedError(key);
    if (status === 416 || code === "InvalidRange") {
      return new ValidationError(`[storage] [${COMPONENT}] Range not satisfiable for "${key}"`, {
        cause: error,
        issues: [{ path: "range", message: "is past the end of the object" }],
      });
    }
    if (
      status === 403 ||
      code === "AccessDenied" ||
      code === "InvalidAccessKeyId" ||
      code === "SignatureDoesNotMatch"
    ) {
      return new RemoteError(
        `[storage] [${COMPONENT}] ${target} was refused (HTTP ${status ?? 403}, ${code}): check the credentials (options.credentials, or AWS_ACCESS_KEY_ID / AWS_PROFILE) and the bucket's permissions`,
        { cause: error, retryable: false, status: status ?? 403 },
      );
    }
    if (name === "CredentialsProviderError" || code === "CredentialsProviderError") {
      return new RemoteError(
        `[storage] [${COMPONENT}] No AWS credentials found for ${description}: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or pass the credentials option`,
        { cause: error, retryable: false },
      );
    }
    const errno = (error as S3ErrorLike | undefined)?.code;
    const network =
      status === undefined && (NETWORK_CODES.has(code) || NETWORK_CODES.has(errno ?? ""));
    const retryable =
      network ||
      status === 429 ||
      (status !== undefined && status >= 500) ||
      THROTTLING_CODES.has(code);
    const timedOut = /^(TimeoutError|ETIMEDOUT|RequestTimeout(Exception)?)$/.test(code);
    const dropped = code === "ECONNRESET" || code === "EPIPE";
    const detail = network
      ? timedOut
        ? `the server stopped answering (${code})`
        : dropped
          ? `the connection to the server was lost (${code})`
          : `could not reach the server (${errno ?? code})`
      : `${code}${status === undefined ? "" : ` (HTTP ${status})`}`;
    return new RemoteError(`[storage] [${COMPONENT}] ${target} failed: ${detail}`, {
      cause: error,
      retryable,
      status,
    });
  };
}
