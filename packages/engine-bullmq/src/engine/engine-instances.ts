import { ConflictError, NotFoundError, parseWith } from "@trainable/core";
import {
  EngineInstance,
  type EngineInstance as EngineInstanceType,
} from "@trainable/plugin-runtime";
import { type InstanceSpec, nextInstance } from "@trainable/plugin-runtime/engine";
import type { EngineContext } from "./engine-context.js";

/**
 * `engine.createInstance` (ids checked): the registered plugin validates the config, then
 * the instance goes into Redis — returned unchanged when the same, replaced only with
 * `replace: true`.
 */
export async function createInstance(
  context: EngineContext,
  spec: InstanceSpec,
): Promise<EngineInstanceType> {
  const { id, plugin } = spec;
  const client = context.plugins.get(plugin);
  if (!client) {
    throw new NotFoundError(
      `[engine-bullmq] Unknown plugin "${plugin}": register it with engine.registerPlugin("${plugin}", …) first (it validates the config)`,
    );
  }
  const registered = await client.registerInstance({
    id,
    handle: spec.handle,
    config: spec.config,
  });
  const existing = await getInstance(context, id);
  const { instance, change } = nextInstance({
    spec,
    config: registered.config,
    existing,
    at: context.clock.now().toISOString(),
  });
  if (existing && change === "same") return existing;
  if (change === "replace" && !spec.replace) {
    throw new ConflictError(
      `[engine-bullmq] Plugin instance "${id}" already exists with a different plugin, handle or config: pass replace: true to replace it`,
    );
  }
  await context.redis.hset(context.keys.instances, id, JSON.stringify(instance));
  return structuredClone(instance);
}

/** An instance as Redis holds it. */
export async function getInstance(
  context: EngineContext,
  id: string,
): Promise<EngineInstanceType | undefined> {
  const raw = await context.redis.hget(context.keys.instances, id);
  if (raw === null) return undefined;
  return parseWith(EngineInstance, JSON.parse(raw), `instance ${id}`, "engine-bullmq");
}

export async function listInstances(context: EngineContext): Promise<EngineInstanceType[]> {
  const all = await context.redis.hgetall(context.keys.instances);
  return Object.entries(all).map(([id, raw]) =>
    parseWith(EngineInstance, JSON.parse(raw), `instance ${id}`, "engine-bullmq"),
  );
}
