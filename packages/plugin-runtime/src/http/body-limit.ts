import { ValidationError } from "@trainable/core";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorBody } from "./error-body.js";
import { requestHeader } from "./request-header.js";

/** The largest request body a plugin app accepts by default, in bytes (1 MiB). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** A route handler. */
type RouteHandler = (c: Context) => Promise<Response>;

export interface BodyLimits {
  /** Middleware refusing a body over the limit (413). */
  limitBody: MiddlewareHandler;
  /**
   * `handler` behind the body limit, as one route handler (a route with a single handler
   * skips Hono's middleware composition: measurably cheaper for a small /run).
   */
  limited(handler: RouteHandler): RouteHandler;
}

/**
 * The request body limits of a plugin app. A declared Content-Length is checked from the
 * header (Node's parser holds the body to it), which spares materializing the request stream;
 * anything else — chunked bodies, no length — goes through Hono's bodyLimit, which counts the
 * bytes as they stream in. Over the limit: 413, and the connection is not reused.
 */
export function createBodyLimits(limit: number): BodyLimits {
  const streamedLimit = bodyLimit({
    maxSize: limit,
    onError: (c) => {
      const error = new ValidationError(
        `[runtime] Request body too large: the limit is ${limit} bytes`,
        { issues: [{ path: "(body)", message: `larger than ${limit} bytes` }] },
      );
      // The rest of the body is left unread (and a streamed one is cancelled, which ends the
      // connection): tell the client not to reuse this connection for its next request.
      c.header("Connection", "close");
      return c.json(errorBody(error).body, 413);
    },
  });
  const declaredWithinLimit = (c: Context): boolean => {
    const length = requestHeader(c, "content-length");
    const chunked = requestHeader(c, "transfer-encoding") !== undefined;
    if (length === undefined || chunked) return false;
    const size = Number(length);
    return Number.isSafeInteger(size) && size >= 0 && size <= limit;
  };
  const limitBody: MiddlewareHandler = async (c, next) =>
    declaredWithinLimit(c) ? next() : streamedLimit(c, next);
  const limited = (handler: RouteHandler): RouteHandler => {
    const streamed = async (c: Context): Promise<Response> => {
      let answer: Response | undefined;
      const refused = await streamedLimit(c, async () => {
        answer = await handler(c);
      });
      return refused ?? answer ?? c.res;
    };
    // Not an async function: a declared length within the limit adds no promise of its own.
    return (c: Context): Promise<Response> => (declaredWithinLimit(c) ? handler(c) : streamed(c));
  };
  return { limitBody, limited };
}
