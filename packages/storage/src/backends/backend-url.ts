import { ValidationError } from "@trainable/core";

/** A `ValidationError` about a backend URL (`issues[0].path` is "url"). */
export function urlError(problem: string, cause?: unknown): ValidationError {
  return new ValidationError(`[storage] Invalid backend URL: ${problem}`, {
    cause,
    issues: [{ path: "url", message: problem }],
  });
}

/** The URL for messages: scheme, host and path only (never userinfo or query values). */
export function shownUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** A `true`/`false` (or `1`/`0`) query parameter. */
export function parseBooleanParam(name: string, value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw urlError(`query parameter "${name}" must be true or false, got ${JSON.stringify(value)}`);
}

/** A whole-number query parameter. */
export function parseIntegerParam(name: string, value: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw urlError(
      `query parameter "${name}" must be a whole number, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}
