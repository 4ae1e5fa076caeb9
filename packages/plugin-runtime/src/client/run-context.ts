import type { CheckpointStore, ModelCache } from "@trainable/core";
import type { PluginInstance } from "../service/plugin-instance.js";
import type { PluginRunContext } from "../service/plugin-run-context.js";
import type { SignalSource } from "../util/signal-from.js";

/**
 * The context of a `run` made by the client. `signal` is a getter on the class, read from the
 * run's options when first read (the HTTP app makes a request's signal only then): one defined
 * on each object instead (in a literal or with `defineProperty`) measurably slows every served
 * request. A spread copy (`{ ...context }`) therefore has no `signal`: copy it explicitly.
 */
export class RunContext<Config = unknown> implements PluginRunContext<Config> {
  store: CheckpointStore | undefined;
  cache: ModelCache | false | undefined;
  instance: PluginInstance<Config> | undefined;
  handle: string | undefined;
  readonly #from: SignalSource;

  constructor(
    store: CheckpointStore | undefined,
    cache: ModelCache | false | undefined,
    instance: PluginInstance<Config> | undefined,
    handle: string | undefined,
    from: SignalSource,
  ) {
    this.store = store;
    this.cache = cache;
    this.instance = instance;
    this.handle = handle;
    this.#from = from;
  }

  get signal(): AbortSignal | undefined {
    return this.#from.signal;
  }
}
