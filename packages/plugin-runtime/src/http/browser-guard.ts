import { isIP } from "node:net";
import { UnauthorizedError } from "@trainable/core";
import type { Context, MiddlewareHandler } from "hono";
import { errorBody } from "./error-body.js";
import { requestHeader } from "./request-header.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The hostname of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased. */
function hostnameOf(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]"));
  const colon = value.lastIndexOf(":");
  return colon === -1 ? value : value.slice(0, colon);
}

/** `localhost` or an IP literal: a name no DNS answer can point elsewhere (no rebinding). */
function isFixedHostname(hostname: string): boolean {
  return hostname === "localhost" || isIP(hostname) !== 0;
}

function refuse(message: string) {
  return errorBody(new UnauthorizedError(`[runtime] ${message}`));
}

/**
 * For a plugin server without a token (on loopback, or `insecure`): web pages the user opens
 * must not drive it. Browsers mark their requests (`Sec-Fetch-*`, `Origin`); other clients
 * (the engine, curl, services) send neither and are not affected.
 *
 * - A change (any method but GET/HEAD/OPTIONS) coming from another site (`Sec-Fetch-Site`
 *   cross-site or same-site, or an `Origin` that is not this server's own) is refused: a page
 *   elsewhere could otherwise post a training or a cancel with a "simple" request.
 * - Any browser request whose `Host` is a DNS name other than `localhost` is refused: that is
 *   how DNS rebinding reaches a loopback server (a name the attacker controls, re-pointed at
 *   127.0.0.1), reading and changing it as "same origin".
 */
export function browserGuard(): MiddlewareHandler {
  // Not an async function: the common case (no browser) adds no promise of its own.
  return (c, next) => {
    const site = requestHeader(c, "sec-fetch-site");
    const origin = requestHeader(c, "origin");
    if (
      site === undefined &&
      origin === undefined &&
      requestHeader(c, "sec-fetch-mode") === undefined
    ) {
      return next();
    }
    const refused = refusal(c, site, origin);
    return refused === undefined ? next() : Promise.resolve(refused);
  };
}

/** The answer refusing a browser request, or `undefined` when it may go on. */
function refusal(c: Context, site: string | undefined, origin: string | undefined) {
  const host = requestHeader(c, "host") ?? "";
  if (!isFixedHostname(hostnameOf(host))) {
    const { body, httpStatus } = refuse(
      `Refused a browser request for host "${hostnameOf(host).slice(0, 100)}": a plugin server without a token answers browsers only at localhost or an IP address (DNS rebinding); give it a token to serve pages under a name`,
    );
    return c.json(body, httpStatus as 401);
  }
  if (SAFE_METHODS.has(c.req.method)) return undefined;
  let sameOrigin = site === undefined || site === "same-origin" || site === "none";
  if (origin !== undefined) {
    try {
      sameOrigin &&= new URL(origin).host === host.trim().toLowerCase();
    } catch {
      sameOrigin = false;
    }
  }
  if (sameOrigin) return undefined;
  const { body, httpStatus } = refuse(
    `Refused a ${c.req.method} from another site (origin ${origin === undefined ? "unknown" : JSON.stringify(origin.slice(0, 100))}): a plugin server without a token takes changes from its own origin only`,
  );
  return c.json(body, httpStatus as 401);
}
