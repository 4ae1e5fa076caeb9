import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import type { S3Context } from "./s3-context.js";

const HOUR_MS = 60 * 60 * 1000;

/**
 * Aborts incomplete multipart uploads under `prefix` started more than `olderThanMs` ago
 * (at least `sweepMinAgeMs`, default an hour): the leftovers of saves killed mid-upload,
 * which S3 otherwise keeps (and bills) until a bucket lifecycle rule removes them. Their bytes
 * are not listed by S3, so `bytes` is 0.
 */
export async function sweepUploads(
  ctx: S3Context,
  prefix: string,
  options: { olderThanMs?: number; signal?: AbortSignal },
): Promise<{ removed: number; bytes: number }> {
  const { signal } = options;
  const minAge = Math.max(options.olderThanMs ?? 0, ctx.options.sweepMinAgeMs ?? HOUR_MS);
  await ctx.ensureBucket(signal);
  let removed = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const out = await ctx.client.send(
      new ListMultipartUploadsCommand({
        Bucket: ctx.bucket,
        Prefix: ctx.fullKey(prefix),
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
      { abortSignal: signal },
    );
    for (const upload of out.Uploads ?? []) {
      const started = upload.Initiated?.getTime();
      if (!upload.Key || !upload.UploadId || started === undefined) continue;
      if (Date.now() - started < minAge) continue;
      await ctx.client.send(
        new AbortMultipartUploadCommand({
          Bucket: ctx.bucket,
          Key: upload.Key,
          UploadId: upload.UploadId,
        }),
        { abortSignal: signal },
      );
      removed++;
    }
    keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
    uploadIdMarker = out.IsTruncated ? out.NextUploadIdMarker : undefined;
  } while (keyMarker !== undefined);
  return { removed, bytes: 0 };
}
