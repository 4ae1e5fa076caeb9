import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointMetadata,
  type CheckpointRef,
  ConflictError,
  DEFAULT_HANDLE,
  type SaveCheckpointOptions,
} from "@trainable/core";
import { type IndexRecord, isCollected, type Pin } from "./blob-registry.js";
import { blobKey, type Scope } from "./keys.js";
import { appendVersionAt, type RefVersion } from "./ref-log.js";
import type { WrittenVersion } from "./repair-refs.js";
import type { StoreContext } from "./store-context.js";

type Published = { ref: CheckpointRef; defaultRef?: CheckpointRef };

/**
 * How publishing a pinned blob went. `collected`: the blob was found doomed or gone — before
 * any ref was written (`refs` undefined: nothing to undo), or after (`refs` and `written` name
 * the versions written, which name a blob that may be gone: the caller stores it again).
 */
export interface Outcome {
  refs?: Published;
  written: WrittenVersion[];
  collected: boolean;
}

/**
 * Appends the refs naming a pinned blob. Right before, unless the blob was just claimed (the
 * claim pinned, then checked it), the pin is written again and the blob checked: so a
 * collection that doomed it meanwhile is seen before any ref names it, and one that dooms it
 * later sees the fresh pin — unless the ref write lands more than a pin lifetime after this
 * check. That is what the check after writing catches: doomed, or already gone (a later
 * collection removes the doom of a blob it found deleted).
 */
export async function publishPinned(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  claimed: { record: IndexRecord; pin: Pin },
  metadata: CheckpointMetadata,
  save: SaveCheckpointOptions,
  options: { checked: boolean; newest?: Promise<RefVersion | undefined> },
): Promise<Outcome> {
  try {
    if (!options.checked && !(await stillUsable(ctx, scope, claimed, save.signal))) {
      return { written: [], collected: true };
    }
    const { refs, written } = await publishRefs(
      ctx,
      scope,
      handle,
      claimed.record,
      metadata,
      save,
      save.expectedDigest,
      options.newest,
    );
    // The refs protect the blob now: the pin goes while the blob is checked.
    const [collected] = await Promise.all([
      wasCollected(ctx, scope, claimed.record, save.signal),
      claimed.pin.release(save.signal),
    ]);
    return { refs, written, collected };
  } finally {
    await claimed.pin.release(save.signal);
  }
}

/**
 * After a blob the refs named was collected: points the handle (and `default`) at the fresh
 * copy, from the version naming the lost one — unless someone moved them since, in which case
 * the lost version is no longer current and there is nothing to repoint. The caller's
 * compare-and-swap was satisfied by the first write; this one is ours. The fresh copy is
 * checked right before, as in `publishPinned`.
 */
export async function repoint(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  uploaded: { record: IndexRecord; pin: Pin },
  lost: CheckpointRef,
  save: SaveCheckpointOptions,
): Promise<Outcome> {
  try {
    if (!(await stillUsable(ctx, scope, uploaded, save.signal))) {
      return { written: [], collected: true };
    }
    const fresh = refOf(ctx, scope, handle, uploaded.record, lost.metadata);
    const written: WrittenVersion[] = [];
    const move = async (name: string): Promise<CheckpointRef | undefined> => {
      try {
        const at = await appendVersionAt(
          ctx.backend,
          scope,
          name,
          { ...fresh, handle: name },
          {
            expectedDigest: lost.digest,
            history: ctx.refHistory,
            signal: save.signal,
            now: ctx.now,
          },
        );
        const ref = at.written as CheckpointRef;
        written.push({ handle: name, seq: at.seq, ref, previous: at.previous });
        return ref;
      } catch (error) {
        if (ConflictError.isInstance(error)) return undefined;
        throw error;
      }
    };
    const ref = (await move(handle)) ?? fresh;
    const defaultRef =
      (save.setAsDefault ?? true) && handle !== DEFAULT_HANDLE
        ? await move(DEFAULT_HANDLE)
        : undefined;
    const [collected] = await Promise.all([
      wasCollected(ctx, scope, uploaded.record, save.signal),
      uploaded.pin.release(save.signal),
    ]);
    return { refs: { ref, ...(defaultRef ? { defaultRef } : {}) }, written, collected };
  } finally {
    await uploaded.pin.release(save.signal);
  }
}

/** Right before a ref write: the pin written again, then the blob checked (not doomed, not gone). */
async function stillUsable(
  ctx: StoreContext,
  scope: Scope,
  claimed: { record: IndexRecord; pin: Pin },
  signal: AbortSignal | undefined,
): Promise<boolean> {
  await claimed.pin.refresh(signal);
  return !(await wasCollected(ctx, scope, claimed.record, signal));
}

function wasCollected(
  ctx: StoreContext,
  scope: Scope,
  record: IndexRecord,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const archiveKey = blobKey(scope, record.blobId, record.compression);
  return isCollected(
    ctx.backend,
    scope,
    { id: record.blobId, archiveKey, size: record.size },
    signal,
  );
}

/** Appends the handle's ref (and `default`'s) pointing at blob `record`. */
async function publishRefs(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  record: IndexRecord,
  metadata: CheckpointMetadata,
  save: SaveCheckpointOptions,
  expectedDigest: string | null | undefined,
  newest?: Promise<RefVersion | undefined>,
): Promise<{ refs: Published; written: WrittenVersion[] }> {
  const base = refOf(ctx, scope, handle, record, metadata);
  const append = { history: ctx.refHistory, signal: save.signal, now: ctx.now };
  const first = await appendVersionAt(ctx.backend, scope, handle, base, {
    ...append,
    expectedDigest,
    newest,
  });
  const ref = first.written as CheckpointRef;
  const written: WrittenVersion[] = [{ handle, seq: first.seq, ref, previous: first.previous }];
  let defaultRef: CheckpointRef | undefined;
  if ((save.setAsDefault ?? true) && handle !== DEFAULT_HANDLE) {
    const at = await appendVersionAt(
      ctx.backend,
      scope,
      DEFAULT_HANDLE,
      { ...base, handle: DEFAULT_HANDLE },
      append,
    );
    defaultRef = at.written as CheckpointRef;
    written.push({
      handle: DEFAULT_HANDLE,
      seq: at.seq,
      ref: defaultRef,
      previous: at.previous,
    });
  }
  return { refs: { ref, ...(defaultRef ? { defaultRef } : {}) }, written };
}

function refOf(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  record: IndexRecord,
  metadata: CheckpointMetadata,
): CheckpointRef {
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    handle,
    digest: record.digest,
    archivePath: blobKey(scope, record.blobId, record.compression),
    size: record.size,
    compression: record.compression,
    ...(record.storedSha256 ? { storedSha256: record.storedSha256 } : {}),
    manifestSize: record.manifestSize,
    fileCount: record.fileCount,
    directoryCount: record.directoryCount,
    totalBytes: record.totalBytes,
    createdAt: ctx.now().toISOString(),
    metadata,
  };
}
