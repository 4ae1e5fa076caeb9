import { UnauthorizedError } from "@trainable/core";
import { errorBody, isLoopbackHostname, requireToken } from "@trainable/plugin-runtime";
import type { Context, MiddlewareHandler } from "hono";
import { hostAllowed } from "./host-rule.js";

/** Who may read and change what through the dashboard's API. */
export interface DashboardAccess {
  /** Accepted bearer tokens: every API request needs one. */
  tokens?: string[];
  /**
   * The token is checked before the request reaches the dashboard (mounted at `/ui` of
   * `trainable serve`, behind that server's token).
   */
  checkedOutside?: boolean;
  /** The address the server listens on. */
  host: string;
  /**
   * Host names (lower case) the `Host` header may carry besides loopback names and IP
   * literals, when no token guards the API (`--allowed-host`).
   */
  allowedHosts?: string[];
}

/** The header every mutating request of the page carries (a cross-site form cannot send it). */
const REQUEST_HEADER = "x-trainable-dashboard";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Whether the page may change things: with a token, or on a loopback address. */
export function canMutate(access: DashboardAccess): boolean {
  return (
    access.tokens !== undefined || access.checkedOutside === true || isLoopbackHostname(access.host)
  );
}

/**
 * The API's guard:
 * - with a token, every request needs `Authorization: Bearer <token>`;
 * - without one, on any address, the `Host` header must be a loopback name, an IP literal or
 *   an `allowedHosts` name (a page of another site whose name was re-pointed at this server —
 *   DNS rebinding — is refused);
 * - without one beyond loopback, the API is read-only;
 * - a mutating request must carry {@link REQUEST_HEADER} (a custom header: a cross-site page
 *   can only send it after a CORS preflight, which this server never grants) and, when the
 *   browser says where it comes from (`Origin`, `Sec-Fetch-Site`), come from this origin.
 */
export function dashboardGuard(access: DashboardAccess): MiddlewareHandler {
  const token = access.tokens ? requireToken({ token: access.tokens }) : undefined;
  const mutable = canMutate(access);
  const open = access.tokens === undefined && access.checkedOutside !== true;
  const allowedHosts = access.allowedHosts ?? [];
  return async (c, next) => {
    c.header("Cache-Control", "no-store");
    if (open && !hostAllowed(c.req.header("host"), allowedHosts)) {
      return refuse(
        c,
        `[cli] Dashboard: the Host header "${c.req.header("host") ?? ""}" is not a loopback name, an IP address or an --allowed-host name (without a token, a dashboard answers only those, against DNS rebinding: open it by IP address, or start it with --allowed-host NAME)`,
      );
    }
    if (MUTATING.has(c.req.method)) {
      if (!mutable) {
        return refuse(
          c,
          `[cli] Dashboard: this dashboard is read-only: it listens on ${access.host} without a token, so ${c.req.method} ${c.req.path} is refused; start it with --token (or TRAINABLE_TOKEN) to allow cancel, set-as-default, delete and prune`,
        );
      }
      const problem = crossSite(c);
      if (problem) return refuse(c, `[cli] Dashboard: ${problem}`);
    }
    if (token) return token(c, next);
    return next();
  };
}

function crossSite(c: Context): string | undefined {
  if (c.req.header(REQUEST_HEADER) !== "1") {
    return `a ${c.req.method} needs the header ${REQUEST_HEADER}: 1 (the dashboard page sends it)`;
  }
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return `a ${c.req.method} from another site (Sec-Fetch-Site: ${site}) is refused`;
  }
  const origin = c.req.header("origin");
  if (origin !== undefined) {
    const host = c.req.header("host");
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || originHost !== host) {
      return `a ${c.req.method} from another origin (${origin}) is refused`;
    }
  }
  return undefined;
}

/** 403: who is asking is not the question (a token would not change the answer). */
function refuse(c: Context, message: string) {
  return c.json({ error: errorBody(new UnauthorizedError(message)).body.error }, 403);
}
