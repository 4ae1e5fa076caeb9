import {
  type CheckpointStore,
  isPromiseLike,
  type ModelCache,
  type PluginRequest,
  parseWith,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { z } from "zod";
import type { PluginService } from "../service/plugin-service.js";
import { withSignalFrom } from "../util/signal-from.js";
import { checkWorkspace } from "./check-workspace.js";
import type { LocalPluginClient } from "./create-local-plugin-client.js";
import type { InstanceRegistry } from "./instance-registry.js";

export interface LocalRunOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any>;
  store: CheckpointStore;
  cache: ModelCache | false;
  instances: InstanceRegistry;
  /** The compiled schema of a run request. */
  runSchema: z.ZodType<PluginRequest<unknown>>;
  /** The compiled schema of the plugin's output, if it declares one. */
  outputSchema: z.ZodType | undefined;
}

/**
 * The in-process `run`: the request parsed (unless `prevalidated`), its workspace and
 * instance checked (without a promise when the instance is known), the plugin run, its output
 * checked. The hot path of a served model: the request's signal is only made if read.
 */
export function createLocalRun(options: LocalRunOptions): LocalPluginClient["run"] {
  const { service, store, cache, instances, runSchema, outputSchema } = options;
  const name = service.pluginName;
  return async (request, runOptions = {}) => {
    const parsed = runOptions.prevalidated
      ? request
      : parseWith(runSchema, request, `${name} run request`, "runtime");
    checkWorkspace(parsed, store.workspace);
    const resolving = instances.resolve(parsed.context?.pluginInstanceId);
    const instance = isPromiseLike(resolving) ? await resolving : resolving;
    const handle =
      runOptions.handle === undefined ? undefined : validateId(runOptions.handle, "handle");
    // The signal is read when needed: the HTTP app creates a request's signal on first use.
    const context = withSignalFrom({ store, cache, instance, handle }, runOptions);
    const output: unknown = await service.run(parsed, context);
    if (outputSchema) {
      const checked = outputSchema.safeParse(output);
      if (!checked.success) {
        const problems = ValidationError.fromZod("runtime", `${name} output`, checked.error);
        throw new TrainableError(
          "INTERNAL",
          `[runtime] ${name}.run returned an invalid output: ${problems.message}`,
        );
      }
      return checked.data;
    }
    return output;
  };
}
