import { createHash } from "node:crypto";
import { PutObjectCommand, type PutObjectCommandInput } from "@aws-sdk/client-s3";
import { normalizeEtag } from "../normalize-etag.js";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import type { ObjectInfo, PutOptions } from "../types.js";
import type { S3Context } from "./s3-context.js";
import { type S3ErrorLike, statusOf } from "./s3-errors.js";

/** One PutObject of a buffered body, with the conditional header when asked. */
export async function putSingle(
  ctx: S3Context,
  key: string,
  data: Buffer,
  putOptions: PutOptions,
): Promise<ObjectInfo> {
  const { signal } = putOptions;
  const input: PutObjectCommandInput = {
    Bucket: ctx.bucket,
    Key: ctx.fullKey(key),
    Body: data,
    ContentLength: data.byteLength,
    ...(putOptions.contentType === undefined ? {} : { ContentType: putOptions.contentType }),
    ...(putOptions.ifNoneMatch === "*" ? { IfNoneMatch: "*" } : {}),
    ...(putOptions.ifMatch === undefined ? {} : { IfMatch: normalizeEtag(putOptions.ifMatch) }),
  };
  const isConditional = input.IfNoneMatch !== undefined || input.IfMatch !== undefined;
  try {
    const out = await ctx.client.send(new PutObjectCommand(input), { abortSignal: signal });
    putOptions.onProgress?.(data.byteLength);
    return {
      key,
      size: data.byteLength,
      etag: normalizeEtag(out.ETag ?? ""),
      lastModified: new Date(),
    };
  } catch (error) {
    if (!isConditional || signal?.aborted) throw error;
    const status = statusOf(error);
    const attempts = (error as S3ErrorLike).$metadata?.attempts ?? 1;
    const ambiguous = status === 409 || (status !== undefined && status >= 500) || attempts > 1;
    if (!ambiguous) throw error;
    // radosgw answers some losers of a conditional race with 500, AWS with 409, and a retried
    // request may have won on its first attempt: look at what is stored now.
    const current = await ctx.headInfo(key, signal);
    const md5 = createHash("md5").update(data).digest("hex");
    if (current && current.etag === md5) {
      putOptions.onProgress?.(data.byteLength);
      return current;
    }
    const conditionFails =
      input.IfNoneMatch !== undefined
        ? current !== undefined
        : current === undefined || current.etag !== input.IfMatch;
    if (conditionFails) throw new PreconditionFailedError(key);
    throw error;
  }
}
