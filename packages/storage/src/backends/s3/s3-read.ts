import { type Readable, Readable as ReadableStream } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { RemoteError } from "@trainable/core";
import { normalizeEtag } from "../normalize-etag.js";
import type { GetOptions, ListOptions, ObjectInfo } from "../types.js";
import { rangeNotSatisfiable } from "../validate-range.js";
import type { S3Context } from "./s3-context.js";
import { statusOf } from "./s3-errors.js";
import { S3_BACKEND_NAME } from "./s3-options.js";
import { mappedBody, sliceStream } from "./s3-streams.js";

const COMPONENT = S3_BACKEND_NAME;

/** GetObject, ranged when asked; a server that ignores `Range` is sliced to what was asked. */
export async function getObject(
  ctx: S3Context,
  key: string,
  { signal, range }: GetOptions,
): Promise<{ body: Readable; info: ObjectInfo }> {
  try {
    await ctx.ensureBucket(signal);
    const out = await ctx.client.send(
      new GetObjectCommand({
        Bucket: ctx.bucket,
        Key: ctx.fullKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end ?? ""}` } : {}),
      }),
      { abortSignal: signal },
    );
    const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? "");
    const info: ObjectInfo = {
      key,
      size: contentRange ? Number(contentRange[3]) : (out.ContentLength ?? 0),
      etag: normalizeEtag(out.ETag ?? ""),
      lastModified: out.LastModified,
    };
    let raw = (out.Body as Readable | undefined) ?? ReadableStream.from([]);
    if (range && contentRange && Number(contentRange[1]) !== range.start) {
      raw.destroy();
      throw new RemoteError(
        `[storage] [${COMPONENT}] get "${key}" on ${ctx.description}: asked for bytes from ${range.start}, the server sent bytes from ${contentRange[1]}`,
        { retryable: true },
      );
    }
    if (range && !contentRange && range.start > 0) {
      // A server may ignore Range and send the whole object (200): skip what was not asked.
      raw = sliceStream(raw, range.start, range.end);
    }
    const body = mappedBody(raw, {
      key,
      description: ctx.description,
      signal,
      mapError: ctx.mapError,
    });
    return { body, info };
  } catch (error) {
    if (range && statusOf(error) === 416) throw rangeNotSatisfiable(COMPONENT, key, range.start);
    throw error;
  }
}

/** ListObjectsV2, page by page (at most `limit` keys asked for). */
export async function* listObjects(
  ctx: S3Context,
  prefix: string,
  { signal, limit }: ListOptions,
): AsyncGenerator<ObjectInfo> {
  await ctx.ensureBucket(signal);
  let token: string | undefined;
  let left = limit ?? Number.POSITIVE_INFINITY;
  do {
    const out = await ctx.client.send(
      new ListObjectsV2Command({
        Bucket: ctx.bucket,
        Prefix: ctx.fullKey(prefix),
        ...(left < 1000 ? { MaxKeys: left } : {}),
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
      { abortSignal: signal },
    );
    for (const item of out.Contents ?? []) {
      if (item.Key === undefined || !item.Key.startsWith(ctx.basePrefix)) continue;
      left--;
      yield {
        key: item.Key.slice(ctx.basePrefix.length),
        size: item.Size ?? 0,
        etag: normalizeEtag(item.ETag ?? ""),
        lastModified: item.LastModified,
      };
    }
    token = out.IsTruncated && left > 0 ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
}
