import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { defineBackend } from "../define-backend.js";
import type { RemoteBackend } from "../types.js";
import { createS3Context } from "./s3-context.js";
import { codeOf, statusOf } from "./s3-errors.js";
import { S3_BACKEND_NAME, type S3BackendOptions, validateS3Options } from "./s3-options.js";
import { putObject } from "./s3-put.js";
import { getObject, listCommonPrefixes, listObjects } from "./s3-read.js";
import { sweepUploads } from "./s3-sweep.js";

/**
 * An S3 backend on the AWS SDK v3 (any S3-compatible server: AWS, radosgw, MinIO…).
 *
 * - Bodies stream: a body up to `partSize` goes in one PutObject, a larger one as a multipart
 *   upload (`@aws-sdk/lib-storage`, `queueSize` parts in flight); memory stays bounded.
 * - Create-only (`ifNoneMatch: "*"`): a body up to `partSize` (Uint8Array, or a stream that
 *   ends within `partSize` bytes) is one PutObject with `If-None-Match: *` — atomic on the
 *   server. A larger stream is a multipart upload whose completion carries the condition
 *   when `conditionalWrites.multipart` says the server checks it (AWS); otherwise it is
 *   refused with a `ValidationError`, never emulated. (The checkpoint store writes archives
 *   under fresh unique keys and needs create-only writes only for small objects.)
 * - Compare-and-swap (`ifMatch`): PutObject with the ETag sent unquoted (radosgw answers
 *   412 to a quoted one). 412 and 409 map to `PreconditionFailedError`; so does radosgw's
 *   500 to a loser under contention, after a HEAD confirms the condition no longer holds.
 *   When a conditional request was retried and fails with 412, a HEAD whose ETag is the
 *   body's MD5 shows the first attempt won: it is reported as a success.
 * - Errors: 404 → `NotFoundError`; 403 → `RemoteError` (not retryable) asking to check the
 *   credentials; throttling, 5xx and network errors → `RemoteError` (retryable) after the
 *   SDK's own retries; an aborted signal → `CancelledError`. Messages never hold secrets.
 */
export function createS3Backend(options: S3BackendOptions): RemoteBackend {
  validateS3Options(options);
  const ctx = createS3Context(options);
  return defineBackend({
    name: S3_BACKEND_NAME,
    description: ctx.description,
    capabilities: ctx.capabilities,
    mapError: ctx.mapError,
    driver: {
      put: (key, body, putOptions) => putObject(ctx, key, body, putOptions),
      get: (key, getOptions) => getObject(ctx, key, getOptions),
      async head(key, { signal }) {
        await ctx.ensureBucket(signal);
        return ctx.headInfo(key, signal);
      },
      list: (prefix, listOptions) => listObjects(ctx, prefix, listOptions),
      listPrefixes: (prefix, listOptions) => listCommonPrefixes(ctx, prefix, listOptions),
      async delete(key, { signal }) {
        await ctx.ensureBucket(signal);
        try {
          await ctx.client.send(
            new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.fullKey(key) }),
            { abortSignal: signal },
          );
        } catch (error) {
          // Deleting a missing key is not an error (a missing bucket is).
          if (statusOf(error) === 404 && codeOf(error) !== "NoSuchBucket") return;
          throw error;
        }
      },
      sweep: (prefix, sweepOptions) => sweepUploads(ctx, prefix, sweepOptions),
      async close() {
        if (ctx.ownsClient) ctx.client.destroy();
      },
    },
  });
}
