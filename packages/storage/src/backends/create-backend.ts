import { fileURLToPath } from "node:url";
import { TrainableError, ValidationError } from "@trainable/core";
import { createFileBackend, type FileBackendOptions } from "./file-backend.js";
import { createMemoryBackend } from "./memory-backend.js";
import type { S3ConditionalWrites } from "./s3-conditional-writes.js";
import type { RemoteBackend } from "./types.js";
import { validatePrefix } from "./validate-key.js";

/** AWS-style credentials (structurally the SDK's `AwsCredentialIdentity`). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/**
 * Settings for `s3://` URLs that win over the URL's query parameters. The same fields as
 * `S3BackendOptions` from `@trainable/storage/s3`, typed here without the AWS SDK so the main
 * entry never needs it.
 */
export interface S3UrlOverrides {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: S3Credentials | (() => Promise<S3Credentials>);
  partSize?: number;
  queueSize?: number;
  maxAttempts?: number;
  socketTimeoutMs?: number;
  retryMode?: "standard" | "adaptive";
  requestChecksumCalculation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  responseChecksumValidation?: "WHEN_REQUIRED" | "WHEN_SUPPORTED";
  conditionalWrites?: S3ConditionalWrites;
  /** An `S3Client` from `@aws-sdk/client-s3`. */
  client?: object;
  createBucket?: boolean;
}

export interface CreateBackendOptions {
  /** For `s3://` URLs: credentials, a client, tuning. Wins over the URL's query parameters. */
  s3?: S3UrlOverrides;
  /** For `file://` URLs: everything but `root`. */
  file?: Omit<FileBackendOptions, "root">;
}

/** `memory://name` backends, shared within the process. */
const namedMemoryBackends = new Map<string, RemoteBackend>();

function urlError(problem: string, cause?: unknown): ValidationError {
  return new ValidationError(`[storage] Invalid backend URL: ${problem}`, {
    cause,
    issues: [{ path: "url", message: problem }],
  });
}

/** The URL for messages: scheme, host and path only (never userinfo or query values). */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function parseBoolean(name: string, value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw urlError(`query parameter "${name}" must be true or false, got ${JSON.stringify(value)}`);
}

function parseInteger(name: string, value: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw urlError(
      `query parameter "${name}" must be a whole number, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

function fileBackendFrom(raw: string | undefined, url: URL, options: CreateBackendOptions) {
  if (raw !== undefined && !/^file:(\/\/(localhost)?)?\//i.test(raw)) {
    throw urlError(`a file URL must hold an absolute path (file:///abs/path), got "${raw}"`);
  }
  if (url.host !== "" && url.host !== "localhost") {
    throw urlError(`file URLs must be local (file:///abs/path), got host "${url.host}"`);
  }
  if (url.hash) throw urlError("file URLs take no #fragment");
  const fileOptions: Omit<FileBackendOptions, "root"> = {};
  for (const [name, value] of url.searchParams) {
    if (name === "fsync") fileOptions.fsync = parseBoolean(name, value);
    else throw urlError(`unknown query parameter "${name}" for file URLs (known: fsync)`);
  }
  let root: string;
  try {
    root = fileURLToPath(new URL(`${url.protocol}//${url.host}${url.pathname}`));
  } catch (error) {
    throw urlError(`bad file URL "${shown(url)}"`, error);
  }
  return createFileBackend({ ...fileOptions, ...options.file, root });
}

function memoryBackendFrom(url: URL) {
  if (url.search || url.hash) throw urlError("memory URLs take no query or #fragment");
  if (url.pathname !== "" && url.pathname !== "/") {
    throw urlError(`memory URLs are memory:// or memory://name, got "${shown(url)}"`);
  }
  const name = url.host;
  if (name === "") return createMemoryBackend();
  let backend = namedMemoryBackends.get(name);
  if (!backend) {
    backend = createMemoryBackend({ name });
    namedMemoryBackends.set(name, backend);
  }
  return backend;
}

const S3_PARAMS = [
  "endpoint",
  "region",
  "forcePathStyle",
  "partSize",
  "queueSize",
  "maxAttempts",
  "createBucket",
  "ifNoneMatch",
  "ifMatch",
  "multipartConditional",
] as const;

async function s3BackendFrom(url: URL, options: CreateBackendOptions) {
  if (url.username || url.password) {
    throw urlError(
      "s3 URLs must not hold credentials; use the AWS chain or options.s3.credentials",
    );
  }
  if (url.port) throw urlError("s3 URLs are s3://bucket/prefix; put the server in ?endpoint=");
  if (url.hash) throw urlError("s3 URLs take no #fragment");
  const bucket = url.hostname;
  if (bucket === "")
    throw urlError(`missing bucket in "${shown(url)}" (expected s3://bucket/prefix)`);
  let prefix: string;
  try {
    prefix = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch (error) {
    throw urlError(`bad percent-encoding in the prefix of "${shown(url)}"`, error);
  }
  try {
    validatePrefix("s3", prefix);
  } catch (error) {
    throw urlError(`bad prefix in "${shown(url)}": ${(error as Error).message}`, error);
  }
  const fromUrl: S3UrlOverrides & { bucket: string; prefix: string } = { bucket, prefix };
  const conditionalWrites: S3ConditionalWrites = {};
  for (const [name, value] of url.searchParams) {
    switch (name as (typeof S3_PARAMS)[number]) {
      case "endpoint":
        fromUrl.endpoint = value;
        break;
      case "region":
        fromUrl.region = value;
        break;
      case "forcePathStyle":
        fromUrl.forcePathStyle = parseBoolean(name, value);
        break;
      case "createBucket":
        fromUrl.createBucket = parseBoolean(name, value);
        break;
      case "partSize":
      case "queueSize":
      case "maxAttempts":
        fromUrl[name as "partSize" | "queueSize" | "maxAttempts"] = parseInteger(name, value);
        break;
      case "ifNoneMatch":
      case "ifMatch":
        conditionalWrites[name as "ifNoneMatch" | "ifMatch"] = parseBoolean(name, value);
        break;
      case "multipartConditional":
        conditionalWrites.multipart = parseBoolean(name, value);
        break;
      default:
        throw urlError(
          `unknown query parameter "${name}" for s3 URLs (known: ${S3_PARAMS.join(", ")})`,
        );
    }
  }
  if (Object.keys(conditionalWrites).length > 0) fromUrl.conditionalWrites = conditionalWrites;
  let s3: typeof import("../s3.js");
  try {
    s3 = await import("../s3.js");
  } catch (error) {
    throw new TrainableError(
      "NOT_SUPPORTED",
      "[storage] [s3] s3:// URLs need the AWS SDK: install @aws-sdk/client-s3 and @aws-sdk/lib-storage",
      { cause: error },
    );
  }
  const merged = { ...fromUrl, ...options.s3 } as Parameters<typeof s3.createS3Backend>[0];
  return s3.createS3Backend(merged);
}

/**
 * Builds a backend from a URL:
 *
 * - `file:///abs/path[?fsync=false]` — the filesystem backend rooted at an absolute path;
 * - `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true` — S3 (loads the AWS SDK on
 *   demand; credentials from the standard AWS chain unless `options.s3.credentials`); other
 *   parameters: `partSize`, `queueSize`, `maxAttempts`, `createBucket`, and `ifNoneMatch`,
 *   `ifMatch`, `multipartConditional` (see `S3ConditionalWrites`);
 * - `memory://` — a fresh in-memory backend; `memory://name` — one shared by name within
 *   the process.
 *
 * A bad URL (unknown scheme, relative path, missing bucket, unknown parameter) is a
 * `ValidationError` naming the problem.
 */
export async function createBackend(
  url: string | URL,
  options: CreateBackendOptions = {},
): Promise<RemoteBackend> {
  let parsed: URL;
  const raw = typeof url === "string" ? url : undefined;
  if (url instanceof URL) {
    parsed = url;
  } else if (typeof url === "string") {
    try {
      parsed = new URL(url);
    } catch (error) {
      throw urlError(
        `not a URL (expected file:///abs/path, s3://bucket/prefix or memory://): ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//"))}`,
        error,
      );
    }
  } else {
    throw urlError("must be a string or a URL");
  }
  // URL parsing silently resolves "." and ".." segments (s3://b/../../x becomes s3://b/x):
  // refuse them instead of guessing what was meant.
  const pathPart = (raw ?? "").replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split(/[?#]/)[0] ?? "";
  if (
    pathPart
      .split("/")
      .some(
        (segment) =>
          segment === ".." ||
          segment === "." ||
          /^%2e%2e?$/i.test(segment) ||
          /^\.%2e$|^%2e\.$/i.test(segment),
      )
  ) {
    throw urlError(`must not contain "." or ".." path segments: ${JSON.stringify(raw)}`);
  }
  switch (parsed.protocol) {
    case "file:":
      return fileBackendFrom(raw, parsed, options);
    case "s3:":
      return s3BackendFrom(parsed, options);
    case "memory:":
      return memoryBackendFrom(parsed);
    default:
      throw urlError(
        `unsupported scheme "${parsed.protocol}" (use file:///abs/path, s3://bucket/prefix or memory://)`,
      );
  }
}
