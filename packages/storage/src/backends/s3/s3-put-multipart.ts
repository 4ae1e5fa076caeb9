import { Readable } from "node:stream";
import { setImmediate as nextTick } from "node:timers/promises";
import {
  AbortMultipartUploadCommand,
  type PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { CancelledError } from "@trainable/core";
import { normalizeEtag } from "../normalize-etag.js";
import type { ObjectInfo, PutOptions } from "../types.js";
import type { S3Context } from "./s3-context.js";
import { S3_BACKEND_NAME } from "./s3-options.js";
import { toBuffer } from "./s3-streams.js";

const COMPONENT = S3_BACKEND_NAME;

/**
 * A multipart upload through lib-storage. Every request it sends carries our abort signal
 * (except the AbortMultipartUpload cleanup), and on failure we wait until none is in flight,
 * so a rejected put leaves nothing running and nothing visible at the key.
 */
export async function putMultipart(
  ctx: S3Context,
  key: string,
  body: Readable | Buffer,
  putOptions: PutOptions,
  extra: Partial<PutObjectCommandInput>,
): Promise<ObjectInfo> {
  const { signal } = putOptions;
  const controller = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  const proxy = {
    config: ctx.client.config,
    send(command: unknown, sendOptions?: Record<string, unknown>) {
      const cleanup = command instanceof AbortMultipartUploadCommand;
      const promise = ctx.client.send(command as PutObjectCommand, {
        ...sendOptions,
        ...(cleanup ? {} : { abortSignal: controller.signal }),
      });
      inFlight.add(promise);
      promise.then(
        () => inFlight.delete(promise),
        () => inFlight.delete(promise),
      );
      return promise;
    },
  } as unknown as S3Client;
  let size = 0;
  let counted: Readable | Buffer = body;
  if (!Buffer.isBuffer(body)) {
    counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          const bytes = toBuffer(chunk);
          size += bytes.byteLength;
          yield bytes;
        }
      })(),
      // Bytes, not objects: the object-mode default would buffer 16 chunks (16 MiB of 1 MiB
      // archive chunks) on top of the upload's own part buffers.
      { objectMode: false, highWaterMark: 1024 * 1024 },
    );
  } else {
    size = body.byteLength;
  }
  const upload = new Upload({
    client: proxy,
    params: {
      Bucket: ctx.bucket,
      Key: ctx.fullKey(key),
      Body: counted,
      ...(putOptions.contentType === undefined ? {} : { ContentType: putOptions.contentType }),
      ...(putOptions.contentLength === undefined
        ? {}
        : { ContentLength: putOptions.contentLength }),
      ...extra,
    },
    partSize: ctx.partSize,
    queueSize: ctx.queueSize,
    leavePartsOnError: false,
    abortController: controller,
  });
  if (putOptions.onProgress) {
    const onProgress = putOptions.onProgress;
    upload.on("httpUploadProgress", (progress) => onProgress(progress.loaded ?? 0));
  }
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const out = await upload.done();
    const etag = normalizeEtag(out.ETag ?? "");
    // radosgw's CompleteMultipartUpload answers an empty ETag: ask for it.
    if (etag === "") {
      const info = await ctx.headInfo(key, signal);
      if (info) return info;
    }
    return { key, size, etag, lastModified: new Date() };
  } catch (error) {
    controller.abort();
    if (!Buffer.isBuffer(body) && !body.destroyed) body.destroy();
    if (!Buffer.isBuffer(counted) && !counted.destroyed) counted.destroy();
    const deadline = Date.now() + 30_000;
    for (let idle = 0; idle < 3 && Date.now() < deadline; ) {
      if (inFlight.size > 0) {
        idle = 0;
        await Promise.allSettled([...inFlight]);
      } else {
        idle++;
      }
      await nextTick();
    }
    if (signal?.aborted) {
      throw new CancelledError(`[storage] [${COMPONENT}] put "${key}" cancelled`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
