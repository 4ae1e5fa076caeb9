import type { PluginInstance } from "./plugin-instance.js";

/** Finds the plugin instance a request names. `undefined` means "no such instance". */
export interface InstanceLookup {
  get(id: string): PluginInstance | undefined | Promise<PluginInstance | undefined>;
}

/** An instance without its id, as kept in a map or record keyed by id. */
export type InstanceEntry = Omit<PluginInstance, "id"> & { id?: string };

/**
 * Where a plugin app or client finds its instances: a lookup object, a `Map` or plain record
 * keyed by instance id, or a function.
 */
export type InstanceSource =
  | InstanceLookup
  | ReadonlyMap<string, InstanceEntry>
  | Readonly<Record<string, InstanceEntry>>
  | ((id: string) => InstanceEntry | undefined | Promise<InstanceEntry | undefined>);

/** The instance of an entry, made once per entry object (a request need not copy it). */
const withIds = new WeakMap<object, PluginInstance>();

function withId(id: string, entry: InstanceEntry | undefined): PluginInstance | undefined {
  if (entry === undefined) return undefined;
  if (entry === null || typeof entry !== "object")
    return { ...(entry as object), id } as PluginInstance;
  const known = withIds.get(entry);
  if (known?.id === id) return known;
  const made = { ...entry, id };
  withIds.set(entry, made);
  return made;
}

/** Turns any {@link InstanceSource} into an {@link InstanceLookup}. */
export function toInstanceLookup(source: InstanceSource): InstanceLookup {
  if (typeof source === "function") {
    return { get: async (id) => withId(id, await source(id)) };
  }
  if (source instanceof Map) {
    const map = source as ReadonlyMap<string, InstanceEntry>;
    return { get: (id) => withId(id, map.get(id)) };
  }
  if (typeof (source as InstanceLookup).get === "function") return source as InstanceLookup;
  const record = source as Readonly<Record<string, InstanceEntry>>;
  return {
    get: (id) => (Object.hasOwn(record, id) ? withId(id, record[id]) : undefined),
  };
}
