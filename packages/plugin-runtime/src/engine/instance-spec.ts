import { type Id, validateId } from "@trainable/core";
import type { EngineInstance } from "./engine-instance.js";
import type { CreateInstanceOptions } from "./training-engine.js";

/** A `createInstance` request with its ids checked. */
export interface InstanceSpec {
  id: Id;
  plugin: Id;
  handle?: Id;
  config: unknown;
  replace: boolean;
}

/** Checks the ids of a `createInstance` request (its config is the plugin's to check). */
export function parseInstanceSpec(spec: CreateInstanceOptions): InstanceSpec {
  const id = validateId(spec?.id, "id");
  const plugin = validateId(spec.plugin, "plugin");
  const handle = spec.handle === undefined ? undefined : validateId(spec.handle, "handle");
  return { id, plugin, handle, config: spec.config, replace: spec.replace === true };
}

/**
 * The instance a `createInstance` records: `spec` with the config the plugin validated,
 * keeping `existing`'s creation time. `change` says what it does to `existing`: `new` (none),
 * `same` (identical: nothing to write) or `replace` (different: only with `replace: true`).
 */
export function nextInstance(options: {
  spec: InstanceSpec;
  config: unknown;
  existing: EngineInstance | undefined;
  at: string;
}): { instance: EngineInstance; change: "new" | "same" | "replace" } {
  const { spec, existing, at } = options;
  const instance: EngineInstance = {
    schemaVersion: 1,
    id: spec.id,
    plugin: spec.plugin,
    ...(spec.handle !== undefined ? { handle: spec.handle } : {}),
    config: options.config,
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
  if (!existing) return { instance, change: "new" };
  const same =
    existing.plugin === spec.plugin &&
    existing.handle === spec.handle &&
    JSON.stringify(existing.config) === JSON.stringify(instance.config);
  return { instance, change: same ? "same" : "replace" };
}
