import {
  CancelledError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { describe, expect, it } from "vitest";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import { createS3ErrorMapper } from "./s3-errors.js";

const map = createS3ErrorMapper({ bucket: "b", description: "s3://b/ at http://h" });
const sdkError = (status: number | undefined, code: string, extra: object = {}) =>
  Object.assign(new Error(code), {
    name: code,
    Code: code,
    $metadata: { httpStatusCode: status },
    ...extra,
  });
const at = { op: "get", key: "k" };

describe("the S3 error mapper", () => {
  it("maps statuses and codes to the storage errors", () => {
    expect(NotFoundError.isInstance(map(sdkError(404, "NoSuchKey"), at))).toBe(true);
    expect(PreconditionFailedError.isInstance(map(sdkError(412, "PreconditionFailed"), at))).toBe(
      true,
    );
    expect(ValidationError.isInstance(map(sdkError(416, "InvalidRange"), at))).toBe(true);
    const missingBucket = map(sdkError(404, "NoSuchBucket"), at) as RemoteError;
    expect(RemoteError.isInstance(missingBucket) && missingBucket.retryable).toBe(false);
    expect(missingBucket.message).toMatch(/bucket "b" does not exist/);
    const denied = map(sdkError(403, "AccessDenied"), at) as RemoteError;
    expect([denied.retryable, denied.status]).toEqual([false, 403]);
    expect(denied.message).toMatch(/check the credentials/);
  });

  it("makes throttling, 5xx and network errors retryable, naming what happened", () => {
    for (const error of [
      sdkError(503, "SlowDown"),
      sdkError(500, "InternalError"),
      sdkError(undefined, "ECONNRESET", { code: "ECONNRESET" }),
      sdkError(undefined, "TimeoutError"),
    ]) {
      const mapped = map(error, at) as RemoteError;
      expect(RemoteError.isInstance(mapped), error.name).toBe(true);
      expect(mapped.retryable, error.name).toBe(true);
      expect(mapped.message).toMatch(
        /^\[storage\] \[s3\] get "k" on s3:\/\/b\/ at http:\/\/h failed: /,
      );
    }
    expect((map(sdkError(400, "InvalidArgument"), at) as RemoteError).retryable).toBe(false);
  });

  it("passes TrainableErrors through and turns aborts into CancelledError", () => {
    const own = new TrainableError("INTERNAL", "x");
    expect(map(own, at)).toBe(own);
    expect(CancelledError.isInstance(map(sdkError(undefined, "AbortError"), at))).toBe(true);
    expect(
      CancelledError.isInstance(map(new Error("x"), { ...at, signal: AbortSignal.abort() })),
    ).toBe(true);
  });
});
