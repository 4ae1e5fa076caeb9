import { addAbortSignal, type Readable } from "node:stream";
import type { PutObjectCommandInput } from "@aws-sdk/client-s3";
import { ValidationError } from "@trainable/core";
import { normalizeEtag } from "../normalize-etag.js";
import { optionError } from "../option-error.js";
import { PreconditionFailedError } from "../precondition-failed-error.js";
import type { ObjectInfo, PutOptions } from "../types.js";
import type { S3Context } from "./s3-context.js";
import { MAX_PART_SIZE, S3_BACKEND_NAME } from "./s3-options.js";
import { putMultipart } from "./s3-put-multipart.js";
import { putSingle } from "./s3-put-single.js";
import { peek } from "./s3-streams.js";

const COMPONENT = S3_BACKEND_NAME;

/**
 * A put: a body up to `partSize` is one PutObject, a larger one a multipart upload; a
 * conditional put is atomic on the server or refused (see `createS3Backend`).
 */
export async function putObject(
  ctx: S3Context,
  key: string,
  body: Readable | Uint8Array,
  putOptions: PutOptions,
): Promise<ObjectInfo> {
  const { conditional, partSize } = ctx;
  const wantsCreate = putOptions.ifNoneMatch === "*";
  const wantsSwap = putOptions.ifMatch !== undefined;
  if (wantsSwap && !conditional.ifMatch) {
    throw optionError(
      COMPONENT,
      "ifMatch",
      "compare-and-swap is off for this backend (conditionalWrites.ifMatch: false)",
    );
  }
  await ctx.ensureBucket(putOptions.signal);
  const atomicCreate = wantsCreate && conditional.ifNoneMatch;
  // A create-only put the server cannot check for us: skip the upload when the key exists.
  const precheck = async () => {
    if (wantsCreate && (await ctx.headInfo(key, putOptions.signal))) {
      throw new PreconditionFailedError(key);
    }
  };
  const multipartExtra = (): Partial<PutObjectCommandInput> => {
    if (!conditional.multipart) return {};
    if (atomicCreate) return { IfNoneMatch: "*" };
    if (wantsSwap) return { IfMatch: normalizeEtag(putOptions.ifMatch as string) };
    return {};
  };
  const single = (data: Buffer) => {
    if (wantsCreate && !atomicCreate) {
      return precheck().then(() =>
        putSingle(ctx, key, data, { ...putOptions, ifNoneMatch: undefined }),
      );
    }
    return putSingle(ctx, key, data, putOptions);
  };
  // Without conditional completion, a multipart upload cannot be made conditional: refuse
  // rather than pretend (a HEAD before the upload would not be atomic).
  const refuseBig = (): never => {
    const kind = wantsSwap ? "compare-and-swap (ifMatch)" : "create-only (ifNoneMatch)";
    throw new ValidationError(
      `[storage] [${COMPONENT}] A ${kind} put of more than partSize (${partSize}) bytes needs a server that checks the condition on CompleteMultipartUpload (conditionalWrites.multipart: true, e.g. AWS S3); this backend has it off`,
      {
        issues: [
          { path: wantsSwap ? "ifMatch" : "ifNoneMatch", message: "body larger than partSize" },
        ],
      },
    );
  };

  if (body instanceof Uint8Array) {
    const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (
      data.byteLength <= partSize ||
      ((wantsCreate || wantsSwap) && data.byteLength <= MAX_PART_SIZE)
    ) {
      return single(data);
    }
    if ((wantsSwap || atomicCreate) && !conditional.multipart) refuseBig();
    if (wantsCreate && !atomicCreate) await precheck();
    return putMultipart(ctx, key, data, putOptions, multipartExtra());
  }
  if (putOptions.signal) addAbortSignal(putOptions.signal, body);
  if (!wantsCreate && !wantsSwap) return putMultipart(ctx, key, body, putOptions, {});
  const { head, rest } = await peek(body, partSize);
  if (head !== undefined) return single(head);
  try {
    if ((wantsSwap || atomicCreate) && !conditional.multipart) refuseBig();
    if (wantsCreate && !atomicCreate) await precheck();
  } catch (error) {
    rest.destroy();
    throw error;
  }
  return putMultipart(ctx, key, rest, putOptions, multipartExtra());
}
