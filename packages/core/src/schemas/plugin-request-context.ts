import { z } from "zod";
import { Id } from "./id.js";

/** Who a request is for: plugin, version, instance and workspace (ids and handles). */
export const PluginRequestContext = z.object({
  pluginId: z.string().max(256).optional(),
  pluginHandle: Id.optional(),
  pluginVersionId: z.string().max(256).optional(),
  pluginVersionHandle: z.string().max(256).optional(),
  pluginInstanceId: Id.optional(),
  pluginInstanceHandle: Id.optional(),
  workspace: Id.optional(),
});
export type PluginRequestContext = z.infer<typeof PluginRequestContext>;
