import {
  type CheckpointStore,
  isPromiseLike,
  type ModelCache,
  type PluginRequest,
  parseWith,
  pluginRequestSchema,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { z } from "zod";
import type { PluginInstance } from "../service/plugin-instance.js";
import type { PluginService } from "../service/plugin-service.js";
import { compiledSchema } from "../util/compiled-schema.js";
import { withSignalFrom } from "../util/signal-from.js";
import { checkWorkspace } from "./check-workspace.js";
import type { LocalCallOptions, LocalPluginClient } from "./create-local-plugin-client.js";
import type { InstanceRegistry } from "./instance-registry.js";
import type { ClientRunOptions } from "./plugin-client.js";

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
 * The schemas of `run`, compiled once (every served request is validated against the first):
 * the request, and the plugin's output unless `checkOutput` is false.
 */
export function runSchemas(
  // biome-ignore lint/suspicious/noExplicitAny: any plugin
  service: PluginService<any, any>,
  checkOutput: unknown,
): { runSchema: z.ZodType<PluginRequest<unknown>>; outputSchema: z.ZodType | undefined } {
  if (checkOutput !== undefined && typeof checkOutput !== "boolean") {
    throw ValidationError.forField("runtime", "checkOutput", "must be true or false");
  }
  const runSchema = compiledSchema(
    pluginRequestSchema(service.inputSchema).extend({ data: service.inputSchema }),
  );
  const outputSchema =
    service.outputSchema && checkOutput !== false
      ? compiledSchema(service.outputSchema)
      : undefined;
  return { runSchema, outputSchema };
}

/**
 * The in-process `run`: the request parsed (unless `prevalidated`), its workspace and
 * instance checked (without a promise when the instance is known), the plugin run, its output
 * checked. The hot path of a served model: the request's signal is only made if read, and no
 * async layer of its own sits between the caller and the plugin's `run` (a failure still comes
 * back as a rejected promise, never a throw).
 */
export function createLocalRun(options: LocalRunOptions): LocalPluginClient["run"] {
  const { service, store, cache, instances, runSchema, outputSchema } = options;
  const name = service.pluginName;
  const checked = (output: unknown): unknown => {
    if (!outputSchema) return output;
    const result = outputSchema.safeParse(output);
    if (result.success) return result.data;
    const problems = ValidationError.fromZod("runtime", `${name} output`, result.error);
    throw new TrainableError(
      "INTERNAL",
      `[runtime] ${name}.run returned an invalid output: ${problems.message}`,
    );
  };
  const runFor = (
    parsed: PluginRequest<unknown>,
    instance: PluginInstance | undefined,
    runOptions: ClientRunOptions & LocalCallOptions,
  ): Promise<unknown> => {
    // A prevalidated call's handle was checked with its request (`?handle=` on the HTTP app).
    const handle =
      runOptions.handle === undefined || runOptions.prevalidated === true
        ? runOptions.handle
        : validateId(runOptions.handle, "handle");
    // The signal is read when needed: the HTTP app creates a request's signal on first use.
    const context = withSignalFrom({ store, cache, instance, handle }, runOptions);
    const output: unknown = service.run(parsed, context);
    if (output instanceof Promise) return outputSchema ? output.then(checked) : output;
    return Promise.resolve(output).then(checked);
  };
  return (request, runOptions = {}) => {
    try {
      const parsed = runOptions.prevalidated
        ? request
        : parseWith(runSchema, request, `${name} run request`, "runtime");
      checkWorkspace(parsed, store.workspace);
      const resolving = instances.resolve(parsed.context?.pluginInstanceId);
      return isPromiseLike(resolving)
        ? Promise.resolve(resolving).then((instance) => runFor(parsed, instance, runOptions))
        : runFor(parsed, resolving, runOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
