import { type Readable, Readable as ReadableStream } from "node:stream";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
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

/**
 * ListObjectsV2 pages, following continuation tokens while `left()` (what the caller still
 * wants) is positive; a page asks for at most `left()` entries.
 */
async function* listPages(
  ctx: S3Context,
  request: { Prefix: string; Delimiter?: string },
  signal: AbortSignal | undefined,
  left: () => number,
): AsyncGenerator<ListObjectsV2CommandOutput> {
  await ctx.ensureBucket(signal);
  let token: string | undefined;
  do {
    const out = await ctx.client.send(
      new ListObjectsV2Command({
        Bucket: ctx.bucket,
        ...request,
        ...(left() < 1000 ? { MaxKeys: left() } : {}),
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
      { abortSignal: signal },
    );
    yield out;
    token = out.IsTruncated && left() > 0 ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** ListObjectsV2, page by page (at most `limit` keys asked for). */
export async function* listObjects(
  ctx: S3Context,
  prefix: string,
  { signal, limit }: ListOptions,
): AsyncGenerator<ObjectInfo> {
  let left = limit ?? Number.POSITIVE_INFINITY;
  for await (const out of listPages(ctx, { Prefix: ctx.fullKey(prefix) }, signal, () => left)) {
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
  }
}

/**
 * ListObjectsV2 with `Delimiter: "/"`, page by page: the `CommonPrefixes` of each page (the
 * server rolls each folder's keys up into one entry, so a folder costs one entry however many
 * keys it holds), as names.
 */
export async function* listCommonPrefixes(
  ctx: S3Context,
  prefix: string,
  { signal, limit }: ListOptions,
): AsyncGenerator<string> {
  const full = ctx.fullKey(prefix);
  let left = limit ?? Number.POSITIVE_INFINITY;
  // Each name once, even from a server that repeats a common prefix across pages.
  let last: string | undefined;
  for await (const out of listPages(ctx, { Prefix: full, Delimiter: "/" }, signal, () => left)) {
    for (const { Prefix: folder } of out.CommonPrefixes ?? []) {
      if (folder === undefined || !folder.startsWith(full) || !folder.endsWith("/")) continue;
      const name = folder.slice(full.length, -1);
      if (name === "" || name.includes("/") || name === last) continue;
      last = name;
      left--;
      yield name;
    }
  }
}
