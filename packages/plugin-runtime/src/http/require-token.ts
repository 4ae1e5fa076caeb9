import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthorizedError, ValidationError } from "@trainable/core";
import type { Context, MiddlewareHandler } from "hono";
import { errorBody } from "./error-body.js";

/** The bearer token a server accepts, or several (e.g. the old and the new one while rotating). */
export type TokenOption = string | readonly string[];

/**
 * RFC 6750's `b64token` (what may follow `Bearer `), 16 to 4096 characters: hex, base64 and
 * base64url secrets all fit, and a comma never does (so `TRAINABLE_TOKEN` can list several).
 */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 4096;

/**
 * Checks a `token` option and returns the accepted tokens. Errors name `field` and what is
 * wrong with the value, never the value itself.
 */
export function parseTokens(token: unknown, field = "token"): string[] {
  const list = typeof token === "string" ? [token] : token;
  if (!Array.isArray(list)) {
    throw ValidationError.forField("runtime", field, "must be a string or a list of strings");
  }
  if (list.length === 0) {
    throw ValidationError.forField(
      "runtime",
      field,
      "is an empty list, which would accept no one: give at least one token, or omit the option",
    );
  }
  return list.map((item: unknown, i) => {
    const at = list.length > 1 ? `${field}[${i}]` : field;
    if (typeof item !== "string") throw ValidationError.forField("runtime", at, "must be a string");
    if (item.length < MIN_TOKEN_LENGTH || item.length > MAX_TOKEN_LENGTH) {
      throw ValidationError.forField(
        "runtime",
        at,
        `must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters long (it has ${item.length}); generate one with e.g. \`openssl rand -hex 32\``,
      );
    }
    if (!TOKEN_PATTERN.test(item)) {
      throw ValidationError.forField(
        "runtime",
        at,
        "may only contain A-Z a-z 0-9 - . _ ~ + / (and trailing =), as a bearer token must",
      );
    }
    return item;
  });
}

export interface RequireTokenOptions {
  /** The accepted token(s), checked with {@link parseTokens}. */
  token: TokenOption;
  /** Requests let through without a token (checked first). Default: none. */
  isPublic?: (method: string, path: string) => boolean;
  /** The `realm` of the `WWW-Authenticate` challenge. Default `"trainable"`. */
  realm?: string;
}

/** A body this size or smaller, sent to a refused request, is read and dropped (keeping the connection). */
const DRAIN_LIMIT = 64 * 1024;

const sha256 = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/**
 * A Hono middleware requiring `Authorization: Bearer <token>` on every request `isPublic`
 * does not let through. A missing or wrong token gets 401 with a `WWW-Authenticate: Bearer`
 * challenge and a JSON error body (code `UNAUTHORIZED`), before any route handler runs or the
 * body is parsed. Tokens are compared as SHA-256 digests with `timingSafeEqual` — against every
 * accepted token, without stopping at a match — so neither a token's content nor its length
 * shows in the timing. The token is never logged nor echoed.
 */
export function requireToken(options: RequireTokenOptions): MiddlewareHandler {
  const digests = parseTokens(options.token).map(sha256);
  const realm = options.realm ?? "trainable";
  const isPublic = options.isPublic;

  const accepts = (presented: string): boolean => {
    const digest = sha256(presented);
    let ok = false;
    for (const accepted of digests) {
      // timingSafeEqual first: every accepted token is compared, whichever matches.
      ok = timingSafeEqual(digest, accepted) || ok;
    }
    return ok;
  };

  return async (c, next) => {
    if (isPublic?.(c.req.method, c.req.path)) return next();
    const header = c.req.header("authorization");
    if (header === undefined || header.trim() === "") {
      return unauthorized(c, {
        realm,
        presented: false,
        issue: "missing",
        detail:
          "send the header Authorization: Bearer <token> (this server was started with a token)",
      });
    }
    // RFC 7235: the scheme is case-insensitive; the token is not.
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    if (!match) {
      return unauthorized(c, {
        realm,
        presented: true,
        issue: "not a bearer token",
        detail: "the Authorization header must be `Bearer <token>`",
      });
    }
    if (!accepts(match[1] as string)) {
      return unauthorized(c, {
        realm,
        presented: true,
        issue: "token not accepted",
        detail: "the bearer token is not accepted by this server",
      });
    }
    return next();
  };
}

interface Refusal {
  /** The `realm` of the challenge. */
  realm: string;
  /** Whether a token was presented (then the challenge says `invalid_token`). */
  presented: boolean;
  /** What is wrong with the header, for the message. */
  issue: string;
  /** What to do, for the message. */
  detail: string;
}

function unauthorized(c: Context, { realm, presented, issue, detail }: Refusal) {
  const error = new UnauthorizedError(
    `[runtime] Unauthorized: ${c.req.method} ${c.req.path} needs a token (headers.authorization: ${issue}): ${detail}`,
  );
  c.header(
    "WWW-Authenticate",
    presented ? `Bearer realm="${realm}", error="invalid_token"` : `Bearer realm="${realm}"`,
  );
  c.header("Cache-Control", "no-store");
  // The body is never read. A small declared one is drained by Node (the connection is kept);
  // anything larger or streamed closes the connection instead of reading it for nobody.
  const length = c.req.header("content-length");
  const size = length === undefined ? 0 : Number(length);
  if (
    c.req.header("transfer-encoding") !== undefined ||
    !Number.isSafeInteger(size) ||
    size > DRAIN_LIMIT
  ) {
    c.header("Connection", "close");
  }
  return c.json(errorBody(error).body, 401);
}
