import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";

/**
 * Aborted when the client goes away. On Node (@hono/node-server) this listens on the raw
 * response instead of reading `c.req.raw.signal`, which would turn the server's lightweight
 * request into a full WHATWG Request (an AbortController and web streams per request — a
 * third of the throughput of a small `/run`). Elsewhere: the standard request signal.
 */
export function disconnectSignal(c: Context): AbortSignal {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing || typeof outgoing.once !== "function") return c.req.raw.signal;
  const controller = new AbortController();
  const gone = () => {
    if (!outgoing.writableFinished) controller.abort(new Error("client disconnected"));
  };
  // Made on first use: the client may already have gone.
  if (outgoing.closed) gone();
  else outgoing.once("close", gone);
  return controller.signal;
}

/**
 * The options of a served `run`: the request's disconnect signal is made the first time it is
 * read (a getter on the class, not in an object literal: see `withSignalFrom`).
 */
export class RunOptions {
  readonly prevalidated = true;
  readonly handle: string | undefined;
  #c: Context;
  #signal: AbortSignal | undefined;
  constructor(handle: string | undefined, c: Context) {
    this.handle = handle;
    this.#c = c;
  }
  get signal(): AbortSignal {
    this.#signal ??= disconnectSignal(this.#c);
    return this.#signal;
  }
}

/**
 * The `handle` query parameter. On Node the raw request target is looked at first: most
 * requests have no query string, and Hono's query parsing is then work for nothing.
 */
export function handleQuery(c: Context): string | undefined {
  const target = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.url;
  if (typeof target === "string" && !target.includes("?")) return undefined;
  return c.req.query("handle");
}
