import {
  CreateBucketCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { normalizeEtag } from "../normalize-etag.js";
import type { BackendCapabilities, ObjectInfo } from "../types.js";
import { codeOf, createS3ErrorMapper, type S3ErrorMapper, statusOf } from "./s3-errors.js";
import type { S3BackendOptions } from "./s3-options.js";

const MIB = 1024 * 1024;

/** What the parts of the S3 driver share: the client, the bucket and the settings. */
export interface S3Context {
  readonly client: S3Client;
  /** False when the client was passed in (then `close()` leaves it alone). */
  readonly ownsClient: boolean;
  readonly bucket: string;
  /** The prefix inside the bucket, "" or ending in "/". */
  readonly basePrefix: string;
  readonly partSize: number;
  readonly queueSize: number;
  readonly conditional: { ifNoneMatch: boolean; ifMatch: boolean; multipart: boolean };
  readonly description: string;
  readonly capabilities: BackendCapabilities;
  readonly options: S3BackendOptions;
  readonly mapError: S3ErrorMapper;
  fullKey(key: string): string;
  /** Creates the bucket on first use when `createBucket` is set; once per backend. */
  ensureBucket(signal?: AbortSignal): Promise<void>;
  /** HeadObject: the object's info, or `undefined` when there is none. */
  headInfo(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
}

function buildClient(options: S3BackendOptions): S3Client {
  const region = options.region ?? (options.endpoint === undefined ? undefined : "us-east-1");
  return new S3Client({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(region === undefined ? {} : { region }),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? 4,
    // Without an inactivity timeout the SDK waits forever on a server that stopped answering.
    requestHandler: { socketTimeout: options.socketTimeoutMs ?? 120_000 },
    retryMode: options.retryMode ?? "standard",
    requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_REQUIRED",
    responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_REQUIRED",
  });
}

/** Builds the shared state of one S3 backend from its (validated) options. */
export function createS3Context(options: S3BackendOptions): S3Context {
  const bucket = options.bucket;
  let basePrefix = options.prefix ?? "";
  if (basePrefix !== "" && !basePrefix.endsWith("/")) basePrefix += "/";
  const partSize = options.partSize ?? 8 * MIB;
  const conditional = {
    ifNoneMatch: options.conditionalWrites?.ifNoneMatch ?? true,
    ifMatch: options.conditionalWrites?.ifMatch ?? true,
    multipart: options.conditionalWrites?.multipart ?? false,
  };
  const client = (options.client as S3Client | undefined) ?? buildClient(options);
  const where = options.endpoint === undefined ? "" : ` at ${new URL(options.endpoint).origin}`;
  const description = `s3://${bucket}/${basePrefix}${where}`;
  const mapError = createS3ErrorMapper({ bucket, description });
  const fullKey = (key: string) => `${basePrefix}${key}`;

  let bucketReady: Promise<void> | undefined;
  const ensureBucket = (signal?: AbortSignal): Promise<void> => {
    if (!options.createBucket) return Promise.resolve();
    bucketReady ??= (async () => {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
        return;
      } catch (error) {
        if (statusOf(error) !== 404 && codeOf(error) !== "NotFound") throw error;
      }
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: signal });
      } catch (error) {
        if (codeOf(error) !== "BucketAlreadyOwnedByYou") throw error;
      }
    })().catch((error) => {
      bucketReady = undefined;
      throw mapError(error, { op: "create bucket", key: bucket, signal });
    });
    return bucketReady;
  };

  const headInfo = async (key: string, signal?: AbortSignal) => {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key) }), {
        abortSignal: signal,
      });
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: normalizeEtag(out.ETag ?? ""),
        lastModified: out.LastModified,
      };
    } catch (error) {
      const code = codeOf(error);
      if (statusOf(error) === 404 || code === "NotFound" || code === "NoSuchKey") return undefined;
      throw error;
    }
  };

  return {
    client,
    ownsClient: options.client === undefined,
    bucket,
    basePrefix,
    partSize,
    queueSize: options.queueSize ?? 3,
    conditional,
    description,
    capabilities: {
      createOnly: conditional.ifNoneMatch,
      compareAndSwap: conditional.ifMatch,
      rangeReads: true,
      ...(conditional.multipart ? {} : { conditionalMaxBytes: partSize }),
    },
    options,
    mapError,
    fullKey,
    ensureBucket,
    headInfo,
  };
}
