import { Id } from "@trainable/core";
import { z } from "zod";

/** A configured plugin instance: what a request's `context.pluginInstanceId` names. */
export interface PluginInstance<Config = unknown> {
  /** The plugin instance id (`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`). */
  id: string;
  /** The checkpoint handle `run` serves when the caller names none. Defaults to `default`. */
  handle?: string;
  /** The instance config, validated with the plugin's `configSchema`. */
  config: Config;
}

/** The JSON shape of a plugin instance (e.g. the body of `PUT /instances/:id`). */
export const PluginInstanceSpec = z.object({
  handle: Id.optional(),
  config: z.unknown().optional(),
});
export type PluginInstanceSpec = z.infer<typeof PluginInstanceSpec>;
