import { createModelCache } from "@trainable/cache";
import { createLocalEngine, type LocalEngine } from "@trainable/plugin-runtime";
import type { CliContext } from "./context.js";
import { type LoadedPlugin, loadPlugin } from "./load-plugin.js";

/** Builds the store, cache and local engine for a command, with the plugin registered. */
export async function openEngine(
  ctx: CliContext,
  pluginSpec: string,
): Promise<{ engine: LocalEngine; plugin: LoadedPlugin }> {
  const plugin = await loadPlugin(pluginSpec, ctx.io.cwd);
  const store = await ctx.store();
  const cache = createModelCache({
    store,
    ...(ctx.io.env.TRAINABLE_CACHE_DIR ? { diskDir: ctx.io.env.TRAINABLE_CACHE_DIR } : {}),
  });
  const engine = await createLocalEngine({ store, cache, dataDir: ctx.dataDir });
  engine.registerPlugin(plugin.name, plugin.service);
  ctx.onClose(() => engine.close());
  return { engine, plugin };
}
