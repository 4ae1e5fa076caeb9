import { ConflictError, validateId } from "@trainable/core";
import type { PluginClient } from "../../client/plugin-client.js";
import type { PluginService } from "../../service/plugin-service.js";
import type { EngineInstance } from "../engine-instance.js";
import { nextInstance, parseInstanceSpec } from "../instance-spec.js";
import { toPluginClient } from "../to-plugin-client.js";
import type { CreateInstanceOptions } from "../training-engine.js";
import type { LocalEngineState } from "./local-engine-state.js";

/** `engine.registerPlugin`: adds (or replaces) a plugin; its instances are told again. */
export function registerPlugin(
  state: LocalEngineState,
  name: string,
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  plugin: PluginService<any, any> | PluginClient,
): void {
  state.assertOpen();
  const pluginName = validateId(name, "plugin name");
  state.plugins.set(pluginName, toPluginClient(plugin, state));
  for (const key of state.registrations.keys()) {
    if (key.startsWith(`${pluginName}\u0000`)) state.registrations.delete(key);
  }
}

/**
 * `engine.createInstance`: the plugin validates the config (and learns the instance), then
 * the instance is written. An existing one is returned unchanged, or replaced only with
 * `replace: true` (else the plugin's registration is put back).
 */
export async function createInstance(
  state: LocalEngineState,
  options: CreateInstanceOptions,
): Promise<EngineInstance> {
  state.assertOpen();
  const spec = parseInstanceSpec(options);
  const { id, plugin } = spec;
  const client = state.pluginOf(plugin);
  const registered = await client.registerInstance({
    id,
    handle: spec.handle,
    config: spec.config,
  });
  const existing = state.instances.get(id);
  const { instance, change } = nextInstance({
    spec,
    config: registered.config,
    existing,
    at: state.clock.now().toISOString(),
  });
  if (existing && change === "same") return structuredClone(existing);
  if (existing && change === "replace" && !spec.replace) {
    // Put the plugin's registration back the way it was.
    if (existing.plugin === plugin) {
      await client
        .registerInstance({ id, handle: existing.handle, config: existing.config })
        .catch(() => state.registrations.delete(`${plugin}\u0000${id}`));
    }
    throw new ConflictError(
      `[runtime] Plugin instance "${id}" already exists with a different plugin, handle or config: pass replace: true to replace it`,
    );
  }
  await state.taskLog.writeInstance(instance);
  state.instances.set(id, instance);
  state.registrations.set(`${plugin}\u0000${id}`, Promise.resolve());
  return structuredClone(instance);
}
