import { createHash } from "node:crypto";
import { addAbortSignal, PassThrough, Readable } from "node:stream";
import { setImmediate as nextTick } from "node:timers/promises";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  CancelledError,
  NotFoundError,
  RemoteError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { normalizeEtag } from "./normalize-etag.js";
import { optionError, requiredOptionError } from "./option-error.js";
import { PreconditionFailedError } from "./precondition-failed-error.js";
import type { S3ConditionalWrites } from "./s3-conditional-writes.js";
import type {
  BackendCapabilities,
  GetOptions,
  ObjectInfo,
  PutOptions,
  RemoteBackend,
} from "./types.js";
import { validateKey, validatePrefix } from "./validate-key.js";
import { validatePutOptions } from "./validate-put-options.js";
import { rangeNotSatisfiable, validateRange } from "./validate-range.js";

export const S3_BACKEND_NAME = "s3";

export interface S3BackendOptions {
  /** Bucket name (required). */
  bucket: string;
  /** Key prefix inside the bucket, e.g. `"team-a/"` (a trailing `/` is added when missing). */
  prefix?: string;
  /** Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:7480`. Default: AWS. */
  endpoint?: string;
  /** Region; default from the AWS chain, or `us-east-1` when `endpoint` is set. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most local servers. Default: `true` when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Credentials or a provider; default: the standard AWS chain (env, profile, SSO, IMDS…). */
  credentials?: S3ClientConfig["credentials"];
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). Also the largest body sent in one PUT. */
  partSize?: number;
  /** Parts uploaded concurrently (default 3: with 8 MiB parts a 1 GiB save stays under 200 MiB of RSS; raise it on high-latency links). Memory used by one upload ≈ `partSize × (queueSize + 1)`. */
  queueSize?: number;
  /** Attempts per request, with backoff on throttling, 5xx and network errors (default 4). */
  maxAttempts?: number;
  /**
   * A request — or a download's body — that receives nothing for this long fails (a retryable
   * `RemoteError` once the attempts are spent), so a stalled server cannot hang a save or a
   * load forever. Inactivity, not duration: a long transfer that keeps moving is never cut.
   * Default 120 000 ms. Ignored with `client`.
   */
  socketTimeoutMs?: number;
  /** The SDK retry mode (default `"standard"`). */
  retryMode?: "standard" | "adaptive";
  /**
   * `"WHEN_REQUIRED"` (default) sends plain bodies. The SDK's `"WHEN_SUPPORTED"` streams
   * `aws-chunked` bodies with a trailing CRC32, which radosgw rejects (411) and some servers
   * store verbatim; use it only against AWS S3.
   */
  requestChecksumCalculation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  /** `"WHEN_REQUIRED"` (default) or `"WHEN_SUPPORTED"`; see `requestChecksumCalculation`. */
  responseChecksumValidation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  /** What the server enforces; see `S3ConditionalWrites`. */
  conditionalWrites?: S3ConditionalWrites;
  /** Use this client instead of building one (then endpoint/region/credentials/retries are its own). Not destroyed by `close()`. */
  client?: S3Client;
  /** Create the bucket on first use when it does not exist (default `false`). */
  createBucket?: boolean;
  /**
   * `sweep` (run by garbage collection) aborts incomplete multipart uploads older than this,
   * whatever it is asked: an upload older than this is taken as abandoned (its save was
   * killed), so keep it above your longest upload. Default one hour.
   */
  sweepMinAgeMs?: number;
}

const COMPONENT = "s3";
const MIB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MIB;
const MAX_PART_SIZE = 5 * 1024 * MIB;
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

interface S3ErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function statusOf(error: unknown): number | undefined {
  return (error as S3ErrorLike | undefined)?.$metadata?.httpStatusCode;
}

function codeOf(error: unknown): string {
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

function validateOptions(options: S3BackendOptions): void {
  if (options == null || typeof options !== "object")
    throw requiredOptionError(COMPONENT, "bucket");
  if (options.bucket === undefined || options.bucket === "") {
    throw requiredOptionError(COMPONENT, "bucket");
  }
  if (typeof options.bucket !== "string" || !BUCKET_PATTERN.test(options.bucket)) {
    throw optionError(
      COMPONENT,
      "bucket",
      "must be 3-63 characters of lowercase letters, digits, '.', '-' or '_'",
    );
  }
  if (
    options.sweepMinAgeMs !== undefined &&
    (!Number.isSafeInteger(options.sweepMinAgeMs) || options.sweepMinAgeMs < 0)
  ) {
    throw optionError(COMPONENT, "sweepMinAgeMs", "must be an integer >= 0 (milliseconds)");
  }
  if (options.prefix !== undefined) {
    if (typeof options.prefix !== "string")
      throw optionError(COMPONENT, "prefix", "must be a string");
    validatePrefix(COMPONENT, options.prefix);
  }
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw optionError(COMPONENT, "endpoint", "must be an http:// or https:// URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw optionError(COMPONENT, "endpoint", "must be an http:// or https:// URL");
    }
    if (url.username || url.password) {
      throw optionError(
        COMPONENT,
        "endpoint",
        "must not contain credentials; use the credentials option",
      );
    }
  }
  if (
    options.region !== undefined &&
    (typeof options.region !== "string" || options.region === "")
  ) {
    throw optionError(COMPONENT, "region", "must be a non-empty string");
  }
  const integer = (
    field: "partSize" | "queueSize" | "maxAttempts" | "socketTimeoutMs",
    min: number,
    max: number,
  ) => {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > max)) {
      throw optionError(COMPONENT, field, `must be an integer from ${min} to ${max}`);
    }
  };
  integer("partSize", MIN_PART_SIZE, MAX_PART_SIZE);
  integer("queueSize", 1, 64);
  integer("maxAttempts", 1, 20);
  integer("socketTimeoutMs", 1, 3_600_000);
  for (const field of ["requestChecksumCalculation", "responseChecksumValidation"] as const) {
    const value = options[field];
    if (value !== undefined && value !== "WHEN_REQUIRED" && value !== "WHEN_SUPPORTED") {
      throw optionError(COMPONENT, field, 'must be "WHEN_REQUIRED" or "WHEN_SUPPORTED"');
    }
  }
  if (
    options.retryMode !== undefined &&
    options.retryMode !== "standard" &&
    options.retryMode !== "adaptive"
  ) {
    throw optionError(COMPONENT, "retryMode", 'must be "standard" or "adaptive"');
  }
  if (options.client !== undefined && typeof (options.client as S3Client)?.send !== "function") {
    throw optionError(COMPONENT, "client", "must be an S3Client");
  }
  const cw = options.conditionalWrites;
  if (cw !== undefined) {
    if (cw === null || typeof cw !== "object") {
      throw optionError(COMPONENT, "conditionalWrites", "must be an object");
    }
    for (const field of ["ifNoneMatch", "ifMatch", "multipart"] as const) {
      if (cw[field] !== undefined && typeof cw[field] !== "boolean") {
        throw optionError(COMPONENT, `conditionalWrites.${field}`, "must be a boolean");
      }
    }
  }
}

/** The bytes `start`…`end` (inclusive) of a stream of a whole object. */
function sliceStream(body: Readable, start: number, end: number | undefined): Readable {
  let position = 0;
  const sliced = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        const bytes = toBuffer(chunk);
        const from = Math.max(0, start - position);
        const to = end === undefined ? bytes.length : Math.min(bytes.length, end + 1 - position);
        position += bytes.length;
        if (to > from) yield bytes.subarray(from, to);
        if (end !== undefined && position > end) return;
      }
    })(),
    { objectMode: false },
  );
  sliced.once("close", () => {
    if (!body.destroyed) body.destroy();
  });
  return sliced;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk);
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new ValidationError(`[storage] [${COMPONENT}] Body chunks must be bytes or strings`, {
    issues: [{ path: "body", message: "yielded a chunk that is not bytes" }],
  });
}

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
  validateOptions(options);
  const bucket = options.bucket;
  let basePrefix = options.prefix ?? "";
  if (basePrefix !== "" && !basePrefix.endsWith("/")) basePrefix += "/";
  const partSize = options.partSize ?? 8 * MIB;
  const queueSize = options.queueSize ?? 3;
  const conditional = {
    ifNoneMatch: options.conditionalWrites?.ifNoneMatch ?? true,
    ifMatch: options.conditionalWrites?.ifMatch ?? true,
    multipart: options.conditionalWrites?.multipart ?? false,
  };
  const ownsClient = options.client === undefined;
  const client =
    options.client ??
    new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.region !== undefined
        ? { region: options.region }
        : options.endpoint !== undefined
          ? { region: "us-east-1" }
          : {}),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      maxAttempts: options.maxAttempts ?? 4,
      // Without an inactivity timeout the SDK waits forever on a server that stopped answering.
      requestHandler: { socketTimeout: options.socketTimeoutMs ?? 120_000 },
      retryMode: options.retryMode ?? "standard",
      requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_REQUIRED",
      responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_REQUIRED",
    });
  const where = options.endpoint === undefined ? "" : ` at ${new URL(options.endpoint).origin}`;
  const description = `s3://${bucket}/${basePrefix}${where}`;
  const capabilities: BackendCapabilities = {
    createOnly: conditional.ifNoneMatch,
    compareAndSwap: conditional.ifMatch,
    rangeReads: true,
    ...(conditional.multipart ? {} : { conditionalMaxBytes: partSize }),
  };
  const fullKey = (key: string) => `${basePrefix}${key}`;

  function mapError(error: unknown, op: string, key: string, signal?: AbortSignal): Error {
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
  }

  /**
   * The body of a GET, with its stream errors mapped like request errors: a connection lost
   * mid-download is a retryable `RemoteError`, an abort a `CancelledError` (the SDK's body
   * stream fails with raw socket errors such as "aborted"). Destroying the returned stream
   * releases the connection.
   */
  function mappedBody(raw: Readable, key: string, signal?: AbortSignal): Readable {
    const body = new PassThrough({ highWaterMark: raw.readableHighWaterMark });
    raw.on("error", (error) => {
      const mapped = mapError(error, "get", key, signal);
      body.destroy(
        TrainableError.isInstance(mapped) && !RemoteError.isInstance(mapped)
          ? mapped
          : new RemoteError(
              `[storage] [${COMPONENT}] get "${key}" on ${description} failed while reading the body: ${codeOf(error)} (${(error as Error)?.message ?? String(error)})`,
              { cause: error, retryable: true },
            ),
      );
    });
    body.on("close", () => {
      if (!raw.destroyed && !raw.readableEnded) raw.destroy();
    });
    raw.pipe(body);
    return body;
  }

  let bucketReady: Promise<void> | undefined;
  function ensureBucket(signal?: AbortSignal): Promise<void> {
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
      throw mapError(error, "create bucket", bucket, signal);
    });
    return bucketReady;
  }

  async function headInfo(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
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
      if (
        statusOf(error) === 404 ||
        codeOf(error) === "NotFound" ||
        codeOf(error) === "NoSuchKey"
      ) {
        return undefined;
      }
      throw error;
    }
  }

  /** One PutObject of a buffered body, with the conditional header when asked. */
  async function putSingle(key: string, data: Buffer, putOptions: PutOptions): Promise<ObjectInfo> {
    const { signal } = putOptions;
    const input: PutObjectCommandInput = {
      Bucket: bucket,
      Key: fullKey(key),
      Body: data,
      ContentLength: data.byteLength,
      ...(putOptions.contentType === undefined ? {} : { ContentType: putOptions.contentType }),
      ...(putOptions.ifNoneMatch === "*" ? { IfNoneMatch: "*" } : {}),
      ...(putOptions.ifMatch === undefined ? {} : { IfMatch: normalizeEtag(putOptions.ifMatch) }),
    };
    const isConditional = input.IfNoneMatch !== undefined || input.IfMatch !== undefined;
    try {
      const out = await client.send(new PutObjectCommand(input), { abortSignal: signal });
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
      const current = await headInfo(key, signal);
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

  /**
   * A multipart upload through lib-storage. Every request it sends carries our abort signal
   * (except the AbortMultipartUpload cleanup), and on failure we wait until none is in flight,
   * so a rejected put leaves nothing running and nothing visible at the key.
   */
  async function putMultipart(
    key: string,
    body: Readable | Buffer,
    putOptions: PutOptions,
    extra: Partial<PutObjectCommandInput>,
  ): Promise<ObjectInfo> {
    const { signal } = putOptions;
    const controller = new AbortController();
    const inFlight = new Set<Promise<unknown>>();
    const proxy = {
      config: client.config,
      send(command: unknown, sendOptions?: Record<string, unknown>) {
        const cleanup = command instanceof AbortMultipartUploadCommand;
        const promise = client.send(command as PutObjectCommand, {
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
        Bucket: bucket,
        Key: fullKey(key),
        Body: counted,
        ...(putOptions.contentType === undefined ? {} : { ContentType: putOptions.contentType }),
        ...(putOptions.contentLength === undefined
          ? {}
          : { ContentLength: putOptions.contentLength }),
        ...extra,
      },
      partSize,
      queueSize,
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
        const info = await headInfo(key, signal);
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

  /** Reads up to `limit + 1` bytes; `rest` continues where it stopped (or is undefined at the end). */
  async function peek(body: Readable, limit: number) {
    const iterator = body[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    let size = 0;
    while (size <= limit) {
      const next = await iterator.next();
      if (next.done) return { head: Buffer.concat(chunks, size), rest: undefined };
      const bytes = toBuffer(next.value);
      chunks.push(bytes);
      size += bytes.byteLength;
    }
    const rest = Readable.from(
      (async function* () {
        yield* chunks;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield toBuffer(next.value);
        }
      })(),
    );
    rest.once("close", () => {
      if (!body.destroyed) body.destroy();
    });
    return { head: undefined, rest };
  }

  async function put(key: string, body: Readable | Uint8Array, putOptions: PutOptions) {
    const wantsCreate = putOptions.ifNoneMatch === "*";
    const wantsSwap = putOptions.ifMatch !== undefined;
    if (wantsSwap && !conditional.ifMatch) {
      throw optionError(
        COMPONENT,
        "ifMatch",
        "compare-and-swap is off for this backend (conditionalWrites.ifMatch: false)",
      );
    }
    await ensureBucket(putOptions.signal);
    const atomicCreate = wantsCreate && conditional.ifNoneMatch;
    // A create-only put the server cannot check for us: skip the upload when the key exists.
    const precheck = async () => {
      if (wantsCreate && (await headInfo(key, putOptions.signal))) {
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
          putSingle(key, data, { ...putOptions, ifNoneMatch: undefined }),
        );
      }
      return putSingle(key, data, putOptions);
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
      return putMultipart(key, data, putOptions, multipartExtra());
    }
    if (putOptions.signal) addAbortSignal(putOptions.signal, body);
    if (!wantsCreate && !wantsSwap) return putMultipart(key, body, putOptions, {});
    const { head, rest } = await peek(body, partSize);
    if (head !== undefined) return single(head);
    try {
      if ((wantsSwap || atomicCreate) && !conditional.multipart) refuseBig();
      if (wantsCreate && !atomicCreate) await precheck();
    } catch (error) {
      rest.destroy();
      throw error;
    }
    return putMultipart(key, rest, putOptions, multipartExtra());
  }

  return {
    name: S3_BACKEND_NAME,
    capabilities,
    description,

    async put(key, body, putOptions: PutOptions = {}) {
      try {
        validateKey(COMPONENT, key);
        validatePutOptions(COMPONENT, body, putOptions);
        CancelledError.throwIfAborted(putOptions.signal, `[storage] [${COMPONENT}] put "${key}"`);
        return await put(key, body, putOptions);
      } catch (error) {
        if (
          !(body instanceof Uint8Array) &&
          typeof body?.destroy === "function" &&
          !body.destroyed
        ) {
          body.destroy();
        }
        throw mapError(error, "put", key, putOptions.signal);
      }
    },

    async get(key, getOptions: GetOptions = {}) {
      const { signal, range } = getOptions;
      try {
        validateKey(COMPONENT, key);
        validateRange(COMPONENT, range);
        CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] get "${key}"`);
        await ensureBucket(signal);
        const out = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: fullKey(key),
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
        let raw = (out.Body as Readable | undefined) ?? Readable.from([]);
        if (range && contentRange && Number(contentRange[1]) !== range.start) {
          raw.destroy();
          throw new RemoteError(
            `[storage] [${COMPONENT}] get "${key}" on ${description}: asked for bytes from ${range.start}, the server sent bytes from ${contentRange[1]}`,
            { retryable: true },
          );
        }
        if (range && !contentRange && range.start > 0) {
          // A server may ignore Range and send the whole object (200): skip what was not asked.
          raw = sliceStream(raw, range.start, range.end);
        }
        if (signal) addAbortSignal(signal, raw);
        return { body: mappedBody(raw, key, signal), info };
      } catch (error) {
        if (range && statusOf(error) === 416)
          throw rangeNotSatisfiable(COMPONENT, key, range.start);
        throw mapError(error, "get", key, signal);
      }
    },

    async head(key, headOptions = {}) {
      try {
        validateKey(COMPONENT, key);
        CancelledError.throwIfAborted(headOptions.signal, `[storage] [${COMPONENT}] head "${key}"`);
        await ensureBucket(headOptions.signal);
        return await headInfo(key, headOptions.signal);
      } catch (error) {
        throw mapError(error, "head", key, headOptions.signal);
      }
    },

    async *list(prefix, listOptions = {}) {
      const { signal } = listOptions;
      try {
        validatePrefix(COMPONENT, prefix);
        await ensureBucket(signal);
        let token: string | undefined;
        let left = listOptions.limit ?? Number.POSITIVE_INFINITY;
        if (left <= 0) return;
        do {
          CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] list "${prefix}"`);
          const out = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: fullKey(prefix),
              ...(left < 1000 ? { MaxKeys: left } : {}),
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
            { abortSignal: signal },
          );
          for (const item of out.Contents ?? []) {
            if (item.Key === undefined || !item.Key.startsWith(basePrefix)) continue;
            if (left-- <= 0) return;
            yield {
              key: item.Key.slice(basePrefix.length),
              size: item.Size ?? 0,
              etag: normalizeEtag(item.ETag ?? ""),
              lastModified: item.LastModified,
            };
          }
          token = out.IsTruncated ? out.NextContinuationToken : undefined;
        } while (token !== undefined);
      } catch (error) {
        throw mapError(error, "list", prefix, signal);
      }
    },

    async delete(key, deleteOptions = {}) {
      const { signal } = deleteOptions;
      try {
        validateKey(COMPONENT, key);
        CancelledError.throwIfAborted(signal, `[storage] [${COMPONENT}] delete "${key}"`);
        await ensureBucket(signal);
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey(key) }), {
          abortSignal: signal,
        });
      } catch (error) {
        if (statusOf(error) === 404 && codeOf(error) !== "NoSuchBucket") return;
        throw mapError(error, "delete", key, signal);
      }
    },

    /**
     * Aborts incomplete multipart uploads under `prefix` started more than `olderThanMs` ago
     * (at least `sweepMinAgeMs`, default an hour): the leftovers of saves killed mid-upload, which S3 otherwise keeps
     * (and bills) until a bucket lifecycle rule removes them. Their bytes are not listed by S3,
     * so `bytes` is 0.
     */
    async sweep(prefix, sweepOptions = {}) {
      const { signal } = sweepOptions;
      const minAge = Math.max(
        sweepOptions.olderThanMs ?? 0,
        options.sweepMinAgeMs ?? 60 * 60 * 1000,
      );
      try {
        validatePrefix(COMPONENT, prefix);
        await ensureBucket(signal);
        let removed = 0;
        let keyMarker: string | undefined;
        let uploadIdMarker: string | undefined;
        do {
          const out = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: fullKey(prefix),
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
            }),
            { abortSignal: signal },
          );
          for (const upload of out.Uploads ?? []) {
            const started = upload.Initiated?.getTime();
            if (!upload.Key || !upload.UploadId || started === undefined) continue;
            if (Date.now() - started < minAge) continue;
            await client.send(
              new AbortMultipartUploadCommand({
                Bucket: bucket,
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
      } catch (error) {
        throw mapError(error, "sweep", prefix, signal);
      }
    },

    async close() {
      if (ownsClient) client.destroy();
    },
  };
}
