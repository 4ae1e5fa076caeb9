import { parseWith, validateId } from "@trainable/core";
import type { Context, Hono } from "hono";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import type { BodyLimits } from "./body-limit.js";
import { readJson } from "./read-json.js";
import { handleQuery, RunOptions } from "./run-options.js";

/**
 * `POST /run` (and `POST /{alias}`): `PluginRequest<In>` → `{ data: Out }`. The hot path of a
 * served model: the request is parsed with the client's compiled schema once, and the client
 * is told so (`prevalidated`); no per-request closure, getter object or extra promise.
 */
export function mountRunRoute(
  app: Hono,
  client: LocalPluginClient,
  limited: BodyLimits["limited"],
): void {
  const name = client.name;
  const alias = client.service.routeAlias;
  const run = async (c: Context) => {
    const request = parseWith(
      client.schemas.run,
      await readJson(c),
      `${name} run request`,
      "runtime",
    );
    const handle = handleQuery(c);
    // The disconnect signal is made on first use: a served model answering from memory
    // never needs it, and an AbortController per request is a measurable share of a /run.
    const data = await client.run(
      request,
      new RunOptions(handle === undefined ? undefined : validateId(handle, "handle (query)"), c),
    );
    return c.json({ data, status: { state: "succeeded" } });
  };
  app.post("/run", limited(run));
  if (alias) app.post(`/${alias}`, limited(run));
}
