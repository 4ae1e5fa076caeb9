import { ValidationError } from "@trainable/core";

/** Longest key accepted, in UTF-8 bytes (S3's limit). */
const MAX_KEY_BYTES = 1024;

/** Segments starting with this are reserved for a backend's own files (temp files, locks). */
export const RESERVED_SEGMENT_PREFIX = ".~";

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function problemWithSegment(
  segment: string,
  isLast: boolean,
  partialLast: boolean,
): string | undefined {
  if (segment === "") return isLast && partialLast ? undefined : "has an empty path segment";
  if (segment === "." || segment === "..") return `has a "${segment}" segment`;
  if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
    return `has a segment starting with "${RESERVED_SEGMENT_PREFIX}" (reserved)`;
  }
  return undefined;
}

function problemWith(value: string, partialLast: boolean): string | undefined {
  if (typeof value !== "string") return "is not a string";
  if (!partialLast && value === "") return "is empty";
  if (Buffer.byteLength(value, "utf8") > MAX_KEY_BYTES)
    return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (value.startsWith("/")) return "is absolute";
  if (value.includes("\\")) return "contains a backslash";
  if (CONTROL_CHARS.test(value)) return "contains a control character";
  if (value === "") return undefined;
  const segments = value.split("/");
  for (let i = 0; i < segments.length; i++) {
    const problem = problemWithSegment(segments[i]!, i === segments.length - 1, partialLast);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Checks an object key: a non-empty, relative, `/`-separated path with no empty, `.` or `..`
 * segments, no backslash or control characters, and no reserved (`.~…`) segment. Keys come
 * from the checkpoint store, so this is defense in depth; a bad key is a `ValidationError`.
 */
export function validateKey(component: string, key: string): string {
  const problem = problemWith(key, false);
  if (problem) {
    throw new ValidationError(
      `[storage] [${component}] Invalid key ${JSON.stringify(key)}: ${problem}`,
      {
        issues: [{ path: "key", message: problem }],
      },
    );
  }
  return key;
}

/** Checks a list prefix: like a key, but it may be empty and its last segment may be partial or empty. */
export function validatePrefix(component: string, prefix: string): string {
  const problem = problemWith(prefix, true);
  if (problem) {
    throw new ValidationError(
      `[storage] [${component}] Invalid prefix ${JSON.stringify(prefix)}: ${problem}`,
      { issues: [{ path: "prefix", message: problem }] },
    );
  }
  return prefix;
}
