import type { CheckpointStore, ModelCache } from "@trainable/core";
import { createLocalPluginClient } from "../client/create-local-plugin-client.js";
import type { PluginClient } from "../client/plugin-client.js";
import type { PluginService } from "../service/plugin-service.js";

/**
 * The client an engine drives a registered plugin through: a client as given (e.g. HTTP), a
 * service wrapped to run in-process (saving to `store`, notifying `cache`).
 */
export function toPluginClient(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  plugin: PluginService<any, any> | PluginClient,
  where: { store: CheckpointStore; cache?: ModelCache | false },
): PluginClient {
  return "registerInstance" in plugin && "kind" in plugin
    ? (plugin as PluginClient)
    : createLocalPluginClient(plugin as PluginService, where);
}
