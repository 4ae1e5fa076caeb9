import { TrainableError } from "@trainable/core";
import { urlError } from "./backend-url.js";
import type { FileBackendOptions } from "./file/file-backend.js";
import { fileBackendFromUrl } from "./file/file-url.js";
import { memoryBackendFromUrl } from "./memory/memory-url.js";
import type { S3BackendOptions } from "./s3/s3-options.js";
import { s3OptionsFromUrl } from "./s3/s3-url.js";
import type { RemoteBackend } from "./types.js";

/** Settings for `s3://` URLs that win over the URL's query parameters: `S3BackendOptions` but the bucket and prefix. */
export type S3UrlOverrides = Omit<S3BackendOptions, "bucket" | "prefix">;

export interface CreateBackendOptions {
  /** For `s3://` URLs: credentials, a client, tuning. Wins over the URL's query parameters. */
  s3?: S3UrlOverrides;
  /** For `file://` URLs: everything but `root`. */
  file?: Omit<FileBackendOptions, "root">;
}

type FromUrl = (
  url: URL,
  raw: string | undefined,
  options: CreateBackendOptions,
) => RemoteBackend | Promise<RemoteBackend>;

async function s3BackendFromUrl(url: URL, options: CreateBackendOptions): Promise<RemoteBackend> {
  const fromUrl = s3OptionsFromUrl(url);
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
  return s3.createS3Backend({ ...fromUrl, ...options.s3 });
}

/** Each scheme's driver parses its own URLs. */
const DRIVERS: Readonly<Record<string, FromUrl>> = {
  "file:": (url, raw, options) => fileBackendFromUrl(url, raw, options.file),
  "s3:": (url, _raw, options) => s3BackendFromUrl(url, options),
  "memory:": (url) => memoryBackendFromUrl(url),
};

function parseUrl(url: string | URL): URL {
  if (url instanceof URL) return url;
  if (typeof url !== "string") throw urlError("must be a string or a URL");
  try {
    return new URL(url);
  } catch (error) {
    throw urlError(
      `not a URL (expected file:///abs/path, s3://bucket/prefix or memory://): ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//"))}`,
      error,
    );
  }
}

/**
 * URL parsing silently resolves "." and ".." segments (s3://b/../../x becomes s3://b/x):
 * refuse them instead of guessing what was meant.
 */
function refuseDotSegments(raw: string | undefined): void {
  const pathPart = (raw ?? "").replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "").split(/[?#]/)[0] ?? "";
  const dotted = pathPart
    .split("/")
    .some(
      (segment) =>
        segment === ".." ||
        segment === "." ||
        /^%2e%2e?$/i.test(segment) ||
        /^\.%2e$|^%2e\.$/i.test(segment),
    );
  if (dotted) throw urlError(`must not contain "." or ".." path segments: ${JSON.stringify(raw)}`);
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
  const parsed = parseUrl(url);
  const raw = typeof url === "string" ? url : undefined;
  refuseDotSegments(raw);
  const fromUrl = Object.hasOwn(DRIVERS, parsed.protocol) ? DRIVERS[parsed.protocol] : undefined;
  if (!fromUrl) {
    throw urlError(
      `unsupported scheme "${parsed.protocol}" (use file:///abs/path, s3://bucket/prefix or memory://)`,
    );
  }
  return fromUrl(parsed, raw, options);
}
