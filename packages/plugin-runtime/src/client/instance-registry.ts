import { join } from "node:path";
import {
  type Id,
  isPromiseLike,
  NotFoundError,
  parseWith,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import { type InstanceSource, toInstanceLookup } from "../service/instance-lookup.js";
import { type PluginInstance, PluginInstanceSpec } from "../service/plugin-instance.js";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";

export interface InstanceRegistryOptions {
  /** The plugin, when it is trainable: instance configs are parsed with its `configSchema`. */
  trainable: AnyTrainablePluginService | undefined;
  /** The instances served besides registered ones (omitted: any valid id, config `{}`). */
  instances?: InstanceSource;
  /** Where registered instances are kept (`{instancesDir}/{id}.json`); omitted: memory only. */
  instancesDir?: string;
}

/** The plugin instances a client serves: registered ones first, then its `instances`. */
export interface InstanceRegistry {
  /**
   * The instance a request names, without a promise when nothing has to be awaited (a
   * registered instance, a `Map` or record of instances): a served request never waits for
   * it then. Throws (or rejects) a `ValidationError` for a bad or missing id and a
   * `NotFoundError` for an unknown one.
   */
  resolve(id: string | undefined): PluginInstance | undefined | Promise<PluginInstance | undefined>;
  /** Registers (and with `instancesDir`, writes) an instance (ids checked); its config parsed. */
  register(instance: { id: Id; handle?: Id; config?: unknown }): Promise<PluginInstance>;
  /** An instance config parsed with the plugin's `configSchema` (once per config object). */
  parseConfig(config: unknown): unknown;
}

export function createInstanceRegistry(options: InstanceRegistryOptions): InstanceRegistry {
  const { trainable, instancesDir } = options;
  const lookup = options.instances ? toInstanceLookup(options.instances) : undefined;
  const registered = new Map<string, PluginInstance>();
  const parsedConfigs = new WeakMap<object, unknown>();
  const anyInstance = new Map<string, PluginInstance>();
  const resolved = new WeakMap<PluginInstance, PluginInstance>();
  /** Ids with no registration file (looked up once: registrations go through this client). */
  const notRegistered = new Set<string>();

  const parseConfig = (config: unknown): unknown => {
    if (!trainable) return config;
    if (config !== null && typeof config === "object") {
      if (parsedConfigs.has(config)) return parsedConfigs.get(config);
      const parsed = trainable.parseConfig(config);
      parsedConfigs.set(config, parsed);
      return parsed;
    }
    return trainable.parseConfig(config);
  };

  /** An instance registered before a restart (see `instancesDir`). */
  async function readRegistered(dir: string, id: string): Promise<PluginInstance | undefined> {
    const raw = await readJsonFile(join(dir, `${id}.json`));
    if (raw === undefined) {
      if (notRegistered.size >= 10_000) notRegistered.clear();
      notRegistered.add(id);
      return undefined;
    }
    const spec = parseWith(
      PluginInstanceSpec,
      raw,
      `registered plugin instance "${id}"`,
      "runtime",
    );
    const parsed: PluginInstance = { id, config: parseConfig(spec.config ?? {}) };
    if (spec.handle !== undefined) parsed.handle = spec.handle;
    registered.set(id, parsed);
    return parsed;
  }

  /** An instance not registered here: from `instances`, else any id with the config of `{}`. */
  function fromSource(instanceId: string): PluginInstance | Promise<PluginInstance> {
    if (!lookup) {
      // Any id, with the config made of `{}`: made once per id.
      let made = anyInstance.get(instanceId);
      if (!made) {
        if (anyInstance.size >= 10_000) anyInstance.clear();
        made = { id: instanceId, config: parseConfig({}) };
        anyInstance.set(instanceId, made);
      }
      return made;
    }
    const found = lookup.get(instanceId);
    return isPromiseLike(found)
      ? Promise.resolve(found).then((answer) => fromLookup(instanceId, answer))
      : fromLookup(instanceId, found);
  }

  /** What the lookup answered for `instanceId`, its config parsed (once per answered object). */
  function fromLookup(instanceId: string, found: PluginInstance | undefined): PluginInstance {
    if (!found) {
      throw new NotFoundError(
        `[runtime] Unknown plugin instance "${instanceId}": create it first (known instances come from the "instances" option or registerInstance)`,
      );
    }
    const seen = resolved.get(found);
    if (seen?.id === instanceId) return seen;
    const made = { ...found, id: instanceId, config: parseConfig(found.config) };
    resolved.set(found, made);
    return made;
  }

  return {
    parseConfig,

    resolve(id) {
      if (id === undefined) {
        if (trainable) {
          throw ValidationError.forField("runtime", "context.pluginInstanceId", "is required");
        }
        return undefined;
      }
      const instanceId = validateId(id, "context.pluginInstanceId");
      const known = registered.get(instanceId);
      if (known) return known;
      if (instancesDir && !notRegistered.has(instanceId)) {
        return readRegistered(instancesDir, instanceId).then(
          (read) => read ?? fromSource(instanceId),
        );
      }
      return fromSource(instanceId);
    },

    async register({ id, handle, config }) {
      const parsed: PluginInstance = { id, config: parseConfig(config) };
      if (handle !== undefined) parsed.handle = handle;
      if (instancesDir) {
        await writeJsonAtomic(join(instancesDir, `${id}.json`), {
          ...(handle === undefined ? {} : { handle }),
          config: parsed.config,
        });
      }
      registered.set(id, parsed);
      notRegistered.delete(id);
      return parsed;
    },
  };
}
