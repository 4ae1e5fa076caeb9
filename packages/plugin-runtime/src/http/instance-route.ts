import { parseWith, TrainableError, validateId } from "@trainable/core";
import type { Hono, MiddlewareHandler } from "hono";
import type { LocalPluginClient } from "../client/create-local-plugin-client.js";
import { PluginInstanceSpec } from "../service/plugin-instance.js";
import { TrainablePluginService } from "../service/trainable-plugin-service.js";
import { readJson } from "./read-json.js";

export interface InstanceRouteOptions {
  client: LocalPluginClient;
  limitBody: MiddlewareHandler;
  /** Whether new instances may be registered (else only a known one is acknowledged). */
  allowRegistration: boolean;
}

/**
 * `PUT /instances/:id` with `{ handle?, config }`: registers a plugin instance (how a local
 * engine registers the instances it trains on a plugin server). With registration disabled,
 * an instance the server already serves with the same handle and config is acknowledged; any
 * other is refused (`NOT_SUPPORTED`).
 */
export function mountInstanceRoute(app: Hono, options: InstanceRouteOptions): void {
  const { client } = options;
  app.put("/instances/:id", options.limitBody, async (c) => {
    const id = validateId(c.req.param("id"), "instance id (path)");
    const spec = parseWith(PluginInstanceSpec, await readJson(c), "plugin instance", "runtime");
    if (!options.allowRegistration) {
      const known = await client.resolveInstance(id).catch(() => undefined);
      if (known && sameInstance(known, spec, client)) {
        return c.json({ instance: { id, handle: known.handle } });
      }
      throw new TrainableError(
        "NOT_SUPPORTED",
        `[runtime] Instance registration is disabled on this server: configure instance "${id}" in its "instances" option (or start it with allowInstanceRegistration)`,
      );
    }
    const instance = await client.registerInstance({
      id,
      handle: spec.handle,
      config: spec.config,
    });
    return c.json({ instance: { id: instance.id, handle: instance.handle } });
  });
}

/** Whether a registration asks for the instance already known (same handle, same parsed config). */
export function sameInstance(
  known: { handle?: string; config: unknown },
  asked: { handle?: string; config?: unknown },
  client: LocalPluginClient,
): boolean {
  if ((known.handle ?? undefined) !== (asked.handle ?? undefined)) return false;
  let config: unknown;
  try {
    config = TrainablePluginService.isInstance(client.service)
      ? client.service.parseConfig(asked.config)
      : asked.config;
  } catch {
    return false;
  }
  return JSON.stringify(config) === JSON.stringify(known.config);
}
