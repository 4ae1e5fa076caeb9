import type { CheckpointStore, ModelCache } from "@trainable/core";
import type { PluginInstance } from "./plugin-instance.js";

/** What a plugin's `run` gets besides the request: where models live and which instance. */
export interface PluginRunContext<Config = unknown> {
  /** The checkpoint store models are loaded from. */
  store?: CheckpointStore;
  /** The model cache (`false` or absent: load afresh every time). */
  cache?: ModelCache | false;
  /** The plugin instance the request is for (config already validated). */
  instance?: PluginInstance<Config>;
  /** The checkpoint handle to serve; overrides the instance's handle. Defaults to `default`. */
  handle?: string;
  signal?: AbortSignal;
}
