import { type CheckpointRef, IntegrityError, NotFoundError } from "@trainable/core";
import type { RemoteBackend } from "../backends/types.js";
import { announceCollection, type CollectionLease } from "./collection-marker.js";
import { blobPrefix, parseRefVersionKey, refsPrefix, type Scope, scopePrefix } from "./keys.js";

export interface GcOptions {
  pluginInstanceId: string;
  /**
   * Blobs younger than this are never deleted, so a save that has uploaded its blob but not
   * yet written its ref keeps it. Default one hour.
   */
  minAgeMs?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface GcResult {
  deleted: string[];
  bytesFreed: number;
  /** Leftovers of interrupted uploads removed (e.g. temp files of a killed save), and their bytes. */
  leftovers: { removed: number; bytes: number };
  liveBlobs: number;
  dryRun: boolean;
}

/**
 * Deletes blobs that no ref version (current or kept history) points at. Blobs are listed
 * before refs, so a blob written after the listing is never a candidate, and a blob younger
 * than `minAgeMs` is kept whatever the refs say. A malformed ref stops the collection: with
 * an unknown live set, nothing is deleted. While it runs, a marker tells concurrent saves to
 * re-check their blob once it is done (see collection-marker.ts): a save racing a collection
 * never keeps a ref to a deleted blob, whatever `minAgeMs`.
 */
export async function garbageCollect(
  options: GcOptions & {
    backend: RemoteBackend;
    scope: Scope;
    now: () => Date;
    readRefAt: (
      backend: RemoteBackend,
      key: string,
      signal?: AbortSignal,
    ) => Promise<CheckpointRef>;
  },
): Promise<GcResult> {
  const { backend, scope, signal } = options;
  const minAgeMs = options.minAgeMs ?? 60 * 60 * 1000;
  // Before listing anything: a save that writes its ref after our listing must see the marker.
  const lease = options.dryRun ? undefined : await announceCollection(backend, scope, { signal });
  try {
    return await collect(options, minAgeMs, lease);
  } finally {
    await lease?.release();
  }
}

async function collect(
  options: Parameters<typeof garbageCollect>[0],
  minAgeMs: number,
  lease: CollectionLease | undefined,
): Promise<GcResult> {
  const { backend, scope, signal } = options;
  const blobs: { key: string; size: number; lastModified?: Date }[] = [];
  for await (const info of backend.list(blobPrefix(scope), { signal })) {
    if (/\.tar(\.gz)?$/.test(info.key)) blobs.push(info);
  }
  const live = new Set<string>();
  const prefix = refsPrefix(scope);
  for await (const info of backend.list(prefix, { signal })) {
    if (!parseRefVersionKey(info.key, prefix)) continue;
    try {
      live.add((await options.readRefAt(backend, info.key, signal)).archivePath);
    } catch (error) {
      if (IntegrityError.isInstance(error)) {
        throw new IntegrityError(
          `[storage] Garbage collection stopped: ${error.message}. Fix or delete that ref first.`,
          { cause: error },
        );
      }
      // A version deleted since the listing no longer counts.
      if (!NotFoundError.isInstance(error)) throw error;
    }
  }
  const cutoff = options.now().getTime() - minAgeMs;
  const deleted: string[] = [];
  let bytesFreed = 0;
  for (const blob of blobs) {
    if (live.has(blob.key)) continue;
    if (!blob.lastModified || blob.lastModified.getTime() > cutoff) continue;
    if (!options.dryRun) {
      lease?.assertHeld();
      await backend.delete(blob.key, { signal });
      await backend.delete(`${blob.key}.json`, { signal });
    }
    deleted.push(blob.key);
    bytesFreed += blob.size;
  }
  // Temp files of saves killed mid-upload are orphans too (never when dry-running).
  const leftovers = (!options.dryRun &&
    (await backend.sweep?.(scopePrefix(scope), { olderThanMs: minAgeMs, signal }))) || {
    removed: 0,
    bytes: 0,
  };
  return {
    deleted,
    bytesFreed,
    leftovers,
    liveBlobs: live.size,
    dryRun: options.dryRun ?? false,
  };
}
