import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointMetadata,
  type CheckpointRef,
  ConflictError,
  DEFAULT_HANDLE,
  type Id,
  type SaveCheckpointOptions,
} from "@trainable/core";
import { type IndexRecord, isCollected, type Pin } from "./blob-registry.js";
import { blobKey, type Scope } from "./keys.js";
import { appendVersionAt, type RefVersion } from "./ref-log.js";
import type { WrittenVersion } from "./repair-refs.js";
import type { StoreContext } from "./store-context.js";

type Published = { ref: CheckpointRef; defaultRef?: CheckpointRef };

/** One save being published: where, which handle, with what metadata, and the caller's options. */
export interface SaveJob {
  ctx: StoreContext;
  scope: Scope;
  handle: Id;
  metadata: CheckpointMetadata;
  save: SaveCheckpointOptions;
}

type Claimed = { record: IndexRecord; pin: Pin };

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
  job: SaveJob,
  claimed: Claimed,
  options: { checked: boolean; newest?: Promise<RefVersion | undefined> },
): Promise<Outcome> {
  const { save } = job;
  try {
    if (!options.checked && !(await stillUsable(job, claimed))) {
      return { written: [], collected: true };
    }
    const { refs, written } = await publishRefs(job, claimed.record, options.newest);
    // The refs protect the blob now: the pin goes while the blob is checked.
    const [collected] = await Promise.all([
      wasCollected(job, claimed.record),
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
  job: SaveJob,
  uploaded: Claimed,
  lost: CheckpointRef,
): Promise<Outcome> {
  const { ctx, scope, handle, save } = job;
  try {
    if (!(await stillUsable(job, uploaded))) {
      return { written: [], collected: true };
    }
    const fresh = refOf(job, uploaded.record, lost.metadata);
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
      wasCollected(job, uploaded.record),
      uploaded.pin.release(save.signal),
    ]);
    return { refs: { ref, ...(defaultRef ? { defaultRef } : {}) }, written, collected };
  } finally {
    await uploaded.pin.release(save.signal);
  }
}

/** Right before a ref write: the pin written again, then the blob checked (not doomed, not gone). */
async function stillUsable(job: SaveJob, claimed: Claimed): Promise<boolean> {
  await claimed.pin.refresh(job.save.signal);
  return !(await wasCollected(job, claimed.record));
}

function wasCollected({ ctx, scope, save }: SaveJob, record: IndexRecord): Promise<boolean> {
  const archiveKey = blobKey(scope, record.blobId, record.compression);
  const blob = { id: record.blobId, archiveKey, size: record.size };
  return isCollected(ctx.backend, scope, blob, save.signal);
}

/** Appends the handle's ref (and `default`'s) pointing at blob `record`. */
async function publishRefs(
  job: SaveJob,
  record: IndexRecord,
  newest?: Promise<RefVersion | undefined>,
): Promise<{ refs: Published; written: WrittenVersion[] }> {
  const { ctx, scope, handle, save } = job;
  const base = refOf(job, record, job.metadata);
  const append = { history: ctx.refHistory, signal: save.signal, now: ctx.now };
  const first = await appendVersionAt(ctx.backend, scope, handle, base, {
    ...append,
    expectedDigest: save.expectedDigest,
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

/** The ref of `job`'s handle naming blob `record`. */
function refOf(
  { ctx, scope, handle }: SaveJob,
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
