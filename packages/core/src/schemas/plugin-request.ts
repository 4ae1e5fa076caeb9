import { z } from "zod";
import { PluginRequestContext } from "./plugin-request-context.js";
import { Task } from "./task.js";

/** A request to a plugin: its `data`, its context and, for status checks, the last task. */
export interface PluginRequest<T> {
  data?: T;
  context?: PluginRequestContext;
  status?: Task;
  isStatusCheck?: boolean;
}

/** Builds the zod schema of a `PluginRequest<T>` for a given data schema. */
export function pluginRequestSchema<S extends z.ZodType>(data: S) {
  return z.object({
    data: data.optional(),
    context: PluginRequestContext.optional(),
    status: Task.optional(),
    isStatusCheck: z.boolean().optional(),
  });
}
