import type { IncomingMessage } from "node:http";
import type { Context } from "hono";

/**
 * A request header, lowercase `name`. On Node (@hono/node-server) it is read from the incoming
 * message's parsed headers — what `c.req.header()` reads there too, without going through a
 * `Headers` object and its name checks (a measurable share of a small `/run` when done for
 * every request). Elsewhere: `c.req.header(name)`.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
