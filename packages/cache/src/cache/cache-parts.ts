import {
  type CheckpointRef,
  DEFAULT_HANDLE,
  type Id,
  TrainableError,
  ValidationError,
  validateId,
} from "@trainable/core";
import { DiskCache } from "../disk/disk-cache.js";
import { SingleFlight } from "../util/single-flight.js";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";
import { HandleResolver } from "./handle-resolver.js";
import { HandleTable } from "./handle-table.js";
import { type LoadDeps, loadVersion } from "./load-version.js";
import { emptyStats } from "./model-cache-stats.js";
import { kindKeyMemo } from "./model-key.js";
import type { ModelLoadOptions } from "./model-lease.js";
import { type MemoryEntry, ModelMemory } from "./model-memory.js";
import { resolveOptions } from "./resolve-options.js";

/** What `obtain` hands back: the entry (one lease taken) and how its version was found. */
export interface Obtained {
  entry: MemoryEntry;
  ref: CheckpointRef;
  stale: boolean;
  pluginInstanceId: Id;
  handle: Id;
}

/** The parts of one model cache and what they share. */
export interface CacheParts extends LoadDeps {
  resolver: HandleResolver;
  /** Memory-key suffixes, remembered per config object, model class and kind. */
  kindKeyOf: ReturnType<typeof kindKeyMemo>;
  loading: SingleFlight<MemoryEntry>;
  /** The digest last written to each handle file on disk (for offline use). */
  written: Map<string, string>;
  warn: (what: string) => (error: unknown) => void;
  close(): void;
}

/** Checks the options and builds the parts (no I/O). */
export function createCacheParts(options: CreateModelCacheOptions): CacheParts {
  const o = resolveOptions(options);
  const { store, logger, now } = o;
  const workspace = validateId(store.workspace, "store.workspace");
  const counters = emptyStats();
  const warn = (what: string) => (error: unknown) =>
    logger.warn?.(`[cache] ${what}: ${(error as Error)?.message ?? String(error)}`);
  const disk =
    o.diskDir === undefined
      ? undefined
      : new DiskCache({
          root: o.diskDir,
          store,
          maxBytes: o.diskMaxBytes,
          verify: o.verify,
          lockStaleMs: o.lockStaleMs,
          pollMs: { min: Math.min(20, o.pollMs), max: o.pollMs },
          logger,
          stats: counters,
        });
  const memory = new ModelMemory({ ...o, counters, warn });
  const table = new HandleTable({ workspace, memory, logger, now });
  let closed = false;
  return {
    options: o,
    workspace,
    counters,
    disk,
    memory,
    table,
    resolver: new HandleResolver({ options: o, workspace, disk, table, memory, counters }),
    kindKeyOf: kindKeyMemo(),
    loading: new SingleFlight<MemoryEntry>(),
    written: new Map(),
    warn,
    closed: () => closed,
    close() {
      closed = true;
    },
  };
}

export function assertOpen(parts: CacheParts): void {
  if (parts.closed()) throw new TrainableError("INTERNAL", "[cache] This model cache is closed");
}

/** Checks the load options every call takes; returns the ids. */
function checkLoad(load: ModelLoadOptions<unknown>): { pluginInstanceId: Id; handle: Id } {
  if (!load || typeof load !== "object")
    throw ValidationError.forField("cache", "options", "expected an object");
  const pluginInstanceId = validateId(load.pluginInstanceId, "pluginInstanceId");
  const handle = validateId(load.handle ?? DEFAULT_HANDLE, "handle");
  if (typeof load.load !== "function")
    throw ValidationError.forField("cache", "load", "must be a function");
  return { pluginInstanceId, handle };
}

/** Records where a handle pointed on disk, for offline use (not a stale answer: the disk keeps when it was verified). */
export async function rememberHandle(parts: CacheParts, got: Obtained): Promise<void> {
  const { disk, written, workspace } = parts;
  if (!disk || parts.options.offline || got.stale) return;
  const { pluginInstanceId, handle } = got;
  const digest = got.ref.digest;
  const key = `${pluginInstanceId}/${handle}`;
  if (written.get(key) === digest) return;
  written.set(key, digest);
  try {
    await disk.writeHandle({ workspace, pluginInstanceId, handle, digest });
  } catch (error) {
    written.delete(key);
    parts.warn(
      `could not record ${parts.table.describe(pluginInstanceId, handle)} for offline use`,
    )(error);
  }
}

/** Resolves, loads if needed, and takes one lease on the entry (the caller releases it). */
export async function obtain<M>(parts: CacheParts, load: ModelLoadOptions<M>): Promise<Obtained> {
  assertOpen(parts);
  const { resolver, table, memory, counters, loading } = parts;
  const { pluginInstanceId, handle } = checkLoad(load as ModelLoadOptions<unknown>);
  const kindKey = parts.kindKeyOf(load as ModelLoadOptions<unknown>);
  const signalOf = () => load.signal;
  for (;;) {
    const { ref, stale } = await resolver.resolve({
      pluginInstanceId,
      handle,
      kindKey,
      signalOf,
    });
    const key = `${table.versionPrefix(pluginInstanceId, ref.digest)}${kindKey}`;
    const hit = memory.get(key);
    if (hit) {
      counters.hits++;
      hit.leases++;
      return { entry: hit, ref, stale, pluginInstanceId, handle };
    }
    const entry = await loading.run(
      key,
      (signal) =>
        loadVersion(parts, {
          key,
          pluginInstanceId,
          ref,
          load: load.load as ModelLoadOptions<unknown>["load"],
          signal,
        }),
      {
        signal: load.signal,
        what: `[cache] loading ${table.describe(pluginInstanceId, handle)}`,
        onJoin: () => counters.hits++,
        claim: (loaded) => {
          if (!loaded.done) loaded.leases++;
        },
        onForgotten: (loaded) => memory.release(loaded),
      },
    );
    // Let go before this caller could claim it (joined a finished load of a version not kept
    // in memory): load again.
    if (entry.done) continue;
    return { entry, ref, stale, pluginInstanceId, handle };
  }
}
