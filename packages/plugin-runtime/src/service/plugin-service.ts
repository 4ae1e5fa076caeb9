import type { PluginRequest } from "@trainable/core";
import type { z } from "zod";
import type { PluginRunContext } from "./plugin-run-context.js";

/**
 * A plugin: validates its input with `inputSchema` and answers `run`. Served over HTTP by
 * `createPluginApp` (`POST /run` and `POST /{routeAlias}`) or in-process by the local engine.
 */
export abstract class PluginService<In = unknown, Out = unknown> {
  /** The zod schema of a run request's `data`. */
  abstract readonly inputSchema: z.ZodType<In>;
  /** The zod schema of `run`'s result, when the plugin wants its output checked too. */
  readonly outputSchema?: z.ZodType<Out>;
  /** A route alias for `/run`, e.g. `tag` (served at `POST /tag`). */
  readonly routeAlias?: string;

  /** A human-readable plugin name (the class name unless overridden). */
  get pluginName(): string {
    return this.constructor.name;
  }

  /** Answers one request. Throw a `TrainableError` to fail it with a code and message. */
  abstract run(request: PluginRequest<In>, context: PluginRunContext): Promise<Out>;
}
