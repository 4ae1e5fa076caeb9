import { DEFAULT_HANDLE } from "@trainable/core";
import type { CacheParts } from "./cache-parts.js";
import { EntryLease, type ModelLease, type ModelLoadOptions } from "./model-lease.js";
import type { MemoryEntry } from "./model-memory.js";

/**
 * The fast path of `acquire`: a lease when the handle's version is known and fresh (no store
 * call due), its model is in memory, and the handle is already recorded on disk — memory
 * reads only, nothing awaited, no string built once the handle was served. `undefined`
 * otherwise (and for options `acquire` would refuse): `obtain` does the rest.
 */
export function leaseFromMemory<M>(
  parts: CacheParts,
  load: ModelLoadOptions<M>,
): ModelLease<M> | undefined {
  if (parts.closed() || load === null || typeof load !== "object") return undefined;
  const { pluginInstanceId } = load;
  const handle = load.handle ?? DEFAULT_HANDLE;
  if (typeof pluginInstanceId !== "string" || typeof handle !== "string") return undefined;
  const { options: o, table, memory, counters, disk, written } = parts;
  // Only validated ids are known, and an id holds no "/": a match means both are valid.
  const key = `${pluginInstanceId}/${handle}`;
  const known = table.known.get(key);
  if (!known?.trusted || o.now() - known.verifiedAt >= o.revalidateMs) return undefined;
  const digest = known.ref.digest;
  if (disk && !o.offline && written.get(key) !== digest) return undefined;
  let kindKey: string;
  try {
    kindKey = parts.kindKeyOf(load as ModelLoadOptions<unknown>);
  } catch {
    return undefined;
  }
  if (known.kindKey !== kindKey) {
    known.kindKey = kindKey;
    known.memoryKey = `${table.versionPrefix(pluginInstanceId, digest)}${kindKey}`;
  }
  const entry = memory.get(known.memoryKey as string);
  if (!entry) return undefined;
  counters.hits++;
  entry.leases++;
  return new EntryLease<M, MemoryEntry>(entry, known.ref, (e) => memory.release(e));
}
