import { parseBooleanParam, parseIntegerParam, shownUrl, urlError } from "../backend-url.js";
import { validatePrefix } from "../validate-key.js";
import type { S3ConditionalWrites } from "./s3-conditional-writes.js";
import type { S3BackendOptions } from "./s3-options.js";

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

/** Bucket and prefix of `s3://bucket/prefix`. */
function locationOf(url: URL): { bucket: string; prefix: string } {
  if (url.username || url.password) {
    throw urlError(
      "s3 URLs must not hold credentials; use the AWS chain or options.s3.credentials",
    );
  }
  if (url.port) throw urlError("s3 URLs are s3://bucket/prefix; put the server in ?endpoint=");
  if (url.hash) throw urlError("s3 URLs take no #fragment");
  const bucket = url.hostname;
  if (bucket === "") {
    throw urlError(`missing bucket in "${shownUrl(url)}" (expected s3://bucket/prefix)`);
  }
  let prefix: string;
  try {
    prefix = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch (error) {
    throw urlError(`bad percent-encoding in the prefix of "${shownUrl(url)}"`, error);
  }
  try {
    validatePrefix("s3", prefix);
  } catch (error) {
    throw urlError(`bad prefix in "${shownUrl(url)}": ${(error as Error).message}`, error);
  }
  return { bucket, prefix };
}

/**
 * The options an `s3://bucket/prefix?endpoint=…&region=…` URL says (no AWS SDK needed):
 * parameters `endpoint`, `region`, `forcePathStyle`, `partSize`, `queueSize`, `maxAttempts`,
 * `createBucket`, and `ifNoneMatch`, `ifMatch`, `multipartConditional` (see
 * `S3ConditionalWrites`). An unknown parameter is a `ValidationError`.
 */
export function s3OptionsFromUrl(url: URL): S3BackendOptions {
  const options: S3BackendOptions = locationOf(url);
  const conditionalWrites: S3ConditionalWrites = {};
  for (const [name, value] of url.searchParams) {
    switch (name as (typeof S3_PARAMS)[number]) {
      case "endpoint":
      case "region":
        options[name as "endpoint" | "region"] = value;
        break;
      case "forcePathStyle":
      case "createBucket":
        options[name as "forcePathStyle" | "createBucket"] = parseBooleanParam(name, value);
        break;
      case "partSize":
      case "queueSize":
      case "maxAttempts":
        options[name as "partSize" | "queueSize" | "maxAttempts"] = parseIntegerParam(name, value);
        break;
      case "ifNoneMatch":
      case "ifMatch":
        conditionalWrites[name as "ifNoneMatch" | "ifMatch"] = parseBooleanParam(name, value);
        break;
      case "multipartConditional":
        conditionalWrites.multipart = parseBooleanParam(name, value);
        break;
      default:
        throw urlError(
          `unknown query parameter "${name}" for s3 URLs (known: ${S3_PARAMS.join(", ")})`,
        );
    }
  }
  if (Object.keys(conditionalWrites).length > 0) options.conditionalWrites = conditionalWrites;
  return options;
}
