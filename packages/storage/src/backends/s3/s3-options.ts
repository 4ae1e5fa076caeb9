import { optionError, requiredOptionError } from "../option-error.js";
import { validatePrefix } from "../validate-key.js";
import type { S3ConditionalWrites } from "./s3-conditional-writes.js";

export const S3_BACKEND_NAME = "s3";
const COMPONENT = S3_BACKEND_NAME;
const MIB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MIB;
export const MAX_PART_SIZE = 5 * 1024 * MIB;
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/**
 * AWS-style credentials (structurally the SDK's `AwsCredentialIdentity`, typed here without
 * the AWS SDK so that the main entry never needs it).
 */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** An `S3Client` from `@aws-sdk/client-s3` (typed structurally, without the SDK). */
export interface S3ClientLike {
  send(command: never, options?: never): Promise<unknown>;
}

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
  credentials?: S3Credentials | (() => Promise<S3Credentials>);
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
  client?: S3ClientLike;
  /** Create the bucket on first use when it does not exist (default `false`). */
  createBucket?: boolean;
  /**
   * `sweep` (run by garbage collection) aborts incomplete multipart uploads older than this,
   * whatever it is asked: an upload older than this is taken as abandoned (its save was
   * killed), so keep it above your longest upload. Default one hour.
   */
  sweepMinAgeMs?: number;
}

/** Checks the options when the backend is created, before any request. */
export function validateS3Options(options: S3BackendOptions): void {
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
  if (
    options.client !== undefined &&
    typeof (options.client as { send?: unknown })?.send !== "function"
  ) {
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
