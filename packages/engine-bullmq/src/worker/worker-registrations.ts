import type { EngineInstance, PluginClient } from "@trainable/plugin-runtime";
import { canonicalDigest } from "../canonical-json.js";

/**
 * The worker's `ensureRegistered`: tells a plugin an instance before a job of it is driven.
 * It keeps the instance each plugin was last told, by plugin and id: a job whose snapshot
 * differs (the instance was replaced since) registers its own (after any pending one).
 */
export function createWorkerRegistrations(): (
  client: PluginClient,
  instance: EngineInstance,
) => Promise<void> {
  const registrations = new Map<string, { digest: string; pending: Promise<void> }>();
  return (client, instance) => {
    const key = `${instance.plugin}\u0000${instance.id}`;
    const digest = canonicalDigest({ handle: instance.handle ?? null, config: instance.config });
    const known = registrations.get(key);
    if (known?.digest === digest) return known.pending;
    const pending = (known?.pending ?? Promise.resolve())
      .catch(() => {})
      .then(() =>
        client.registerInstance({
          id: instance.id,
          handle: instance.handle,
          config: instance.config,
        }),
      )
      .then(() => undefined);
    pending.catch(() => {
      if (registrations.get(key)?.pending === pending) registrations.delete(key);
    });
    registrations.set(key, { digest, pending });
    return pending;
  };
}
