import { type CheckpointRef, ConflictError } from "@trainable/core";
import { isCollected, pinBlob } from "./blob-registry.js";
import { blobOf } from "./fetch-checkpoint.js";
import { refVersionKey, type Scope } from "./keys.js";
import { appendVersion, type RefVersion } from "./ref-log.js";
import type { StoreContext } from "./store-context.js";

/**
 * What a writer does about ref versions it wrote that name a collected blob — written by a save
 * or `setHandle` whose ref write landed after a garbage collection had taken its pin for stale
 * and deleted the blob (the writer frozen, or its request stalled, for longer than the pin's
 * lifetime between its last check and the write). The writer notices after writing (doom or
 * missing archive), puts something live on top (a repair, or the version it wrote over), and
 * then withdraws its dead versions.
 */

/** A ref version this writer created: where, and what it was written over. */
export interface WrittenVersion {
  handle: string;
  seq: number;
  ref: CheckpointRef;
  /** The version directly below it (read before the create-only write succeeded). */
  previous: RefVersion | undefined;
}

/**
 * Empties versions that name a collected blob, once something else is on top of each (a repair,
 * an undo or another writer's version: never call it for a version that may still be the
 * newest). An emptied version is what trimming leaves: its key stays (a key is never created
 * twice), `history()` and `verify()` skip it and it keeps nothing alive. Best effort: a version
 * left behind (this process stopped first) is recognised by `history()` and `verify()` when its
 * repair follows it.
 */
export async function withdrawVersions(
  ctx: StoreContext,
  scope: Scope,
  versions: readonly WrittenVersion[],
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const { handle, seq } of versions) {
    await ctx.backend
      .put(refVersionKey(scope, handle, seq), Buffer.alloc(0), { contentLength: 0, signal })
      .catch(() => {});
  }
}

/**
 * Takes back a version just written that names a collected blob: puts back the version it was
 * written over when that one's blob is still there (pinned while we check), else a deletion —
 * both only if ours is still the newest (compare-and-swap on its digest), so a later writer is
 * never undone. Then withdraws ours. Throws only when the store cannot be written.
 */
export async function undoVersion(
  ctx: StoreContext,
  scope: Scope,
  written: WrittenVersion,
  signal: AbortSignal | undefined,
): Promise<void> {
  const append = (body: CheckpointRef | "deleted") =>
    appendVersion(ctx.backend, scope, written.handle, body, {
      expectedDigest: written.ref.digest,
      history: ctx.refHistory,
      signal,
      now: ctx.now,
    }).catch((error) => {
      if (!ConflictError.isInstance(error)) throw error;
    });
  const { previous } = written;
  if (previous?.kind !== "ref") {
    await append("deleted");
  } else {
    const blob = { ...blobOf(scope, previous.ref), size: previous.ref.size };
    const pin = await pinBlob(ctx.backend, scope, blob.id, { ttlMs: ctx.pinTtlMs, signal });
    try {
      if (await isCollected(ctx.backend, scope, blob, signal)) await append("deleted");
      else await append(previous.ref);
    } finally {
      await pin.release(signal);
    }
  }
  // Ours is no longer the newest: either the append above went on top of it, or (a conflict)
  // another writer's version did.
  await withdrawVersions(ctx, scope, [written], signal);
}

/**
 * Whether ref version `older` may be a dead version its writer repaired: the ref version just
 * above it in the handle's log (`above`, the next newer one that is not empty) stores the same
 * checkpoint (same digest) under another archive. It is one when `older`'s blob was collected;
 * the caller checks that. Such a version was left behind only by a save stopped between its
 * repair and the withdrawal of its dead versions.
 */
export function mayBeRepaired(older: CheckpointRef, above: CheckpointRef | undefined): boolean {
  return (
    above !== undefined && above.digest === older.digest && above.archivePath !== older.archivePath
  );
}
