import { createHash } from "node:crypto";
import { lstat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import {
  CancelledError,
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointMetadata,
  CheckpointMetadata as CheckpointMetadataSchema,
  type CheckpointRef,
  ConflictError,
  DEFAULT_HANDLE,
  RemoteError,
  type SaveCheckpointOptions,
  type SaveCheckpointResult,
  ValidationError,
  validateId,
} from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { manifestDigest } from "../archive/manifest.js";
import { packFolder } from "../archive/pack-folder.js";
import { walkFolder } from "../archive/walk-folder.js";
import {
  claimStoredBlob,
  type IndexRecord,
  isCollected,
  type Pin,
  pinBlob,
  publishIndexRecord,
} from "./blob-registry.js";
import { blobKey, indexKey, manifestKey, newBlobId, type Scope } from "./keys.js";
import { appendVersionAt, type RefVersion, readNewestVersion } from "./ref-log.js";
import { undoVersion, type WrittenVersion, withdrawVersions } from "./repair-refs.js";
import { describeHandle, type StoreContext, scopeOf } from "./store-context.js";

/** User metadata larger than this (as JSON) is refused: a ref stays small. */
export const MAX_METADATA_BYTES = 32 * 1024;

/**
 * Saves a folder as a checkpoint (see docs/architecture.md, "Saving"):
 *
 * 1. walk the folder (names, types and limits checked; nothing read yet);
 * 2. if every file is known unchanged from an earlier save (`FingerprintCache`), the digest is
 *    known: reuse a stored blob of it, uploading nothing;
 * 3. otherwise pin a fresh blob id and stream the archive to it in one pass — each byte read
 *    once, hashed on the way — then its manifest; publish an index record (or, when an
 *    identical checkpoint was stored meanwhile, reuse that one and drop ours);
 * 4. right before the ref write, refresh the pin and check the blob is neither doomed nor gone
 *    (a reused blob is checked as it is claimed); if it is, upload again without writing a ref;
 * 5. append the ref version(s), compare-and-swap when an expected digest is given;
 * 6. check again that the blob was not collected (a collection that took our pin for stale
 *    while the ref write was on its way): if it was, upload it again, move the refs to the fresh
 *    copy and withdraw the versions naming the collected one; then release the pin.
 */
export async function saveCheckpoint(
  ctx: StoreContext,
  folder: string,
  save: SaveCheckpointOptions,
  options: { remember: boolean },
): Promise<SaveCheckpointResult> {
  const scope = scopeOf(ctx, save.pluginInstanceId);
  const handle = validateId(save.handle, "handle");
  const metadata = checkMetadata(ctx, save.metadata);
  CancelledError.throwIfAborted(save.signal, "[storage] Save");
  await ctx.ensureFormatMarker(save.signal);
  save.onProgress?.({ phase: "pack", bytes: 0 });

  const entries = await walkFolder({ folder, limits: ctx.limits, signal: save.signal });
  const fingerprints = options.remember ? ctx.fingerprints : undefined;
  const known = await fingerprints?.lookup(folder, entries, save.signal);
  /** Versions this save wrote that name a collected blob (withdrawn once repaired). */
  const dead: WrittenVersion[] = [];
  /** The ref the handle was left at by a write whose blob was collected: repoint from it. */
  let repairing: CheckpointRef | undefined;
  if (known !== undefined) {
    // The handle's newest version is read while a stored blob of the digest is claimed.
    const newest = readNewestVersion(ctx.backend, scope, handle, save.signal);
    newest.catch(() => {});
    const claimed = await claimStoredBlob(ctx.backend, scope, manifestDigest(known), {
      ttlMs: ctx.pinTtlMs,
      signal: save.signal,
    });
    if (claimed) {
      // The claim pinned the blob and then checked it: that is the check before the ref write.
      const outcome = await publishPinned(ctx, scope, handle, claimed, metadata, save, {
        newest,
        checked: true,
      });
      if (!outcome.collected) return { ...outcome.refs!, uploadedBytes: 0 };
      // Collected after all (a collection that ignored a stale pin): store it again below.
      if (outcome.refs) {
        repairing = outcome.refs.ref;
        dead.push(...outcome.written);
      }
    }
  }

  for (let attempt = 0; attempt < 3; attempt++) {
    const clock = await fingerprints?.clock(folder);
    const uploaded = await uploadBlob(ctx, scope, entries, save);
    const outcome = repairing
      ? await repoint(ctx, scope, handle, uploaded, repairing, save)
      : await publishPinned(ctx, scope, handle, uploaded, metadata, save, {
          checked: false,
        });
    if (!outcome.collected) {
      // Our dead versions have live ones on top now (or another writer's): withdraw them.
      await withdrawVersions(ctx, scope, dead, save.signal);
      if (fingerprints && uploaded.files) {
        await fingerprints.remember(folder, uploaded.files, clock);
      }
      return { ...outcome.refs!, uploadedBytes: uploaded.bytes };
    }
    if (outcome.refs) {
      repairing = outcome.refs.ref;
      dead.push(...outcome.written);
    }
    // Our upload was doomed: its index record must not offer it to other saves.
    if (uploaded.published) {
      await ctx.backend
        .delete(indexKey(scope, uploaded.record.digest, uploaded.record.blobId))
        .catch(() => {});
    }
  }
  // Giving up: the newest versions we wrote name collected blobs. Put back what each handle
  // pointed at before this save (unless someone moved it since), so no handle is left naming
  // a deleted blob, and withdraw our versions.
  for (const name of new Set(dead.map((v) => v.handle))) {
    const mine = dead.filter((v) => v.handle === name);
    const last = mine.at(-1)!;
    await undoVersion(ctx, scope, { ...last, previous: mine[0]!.previous }, save.signal).catch(
      () => {},
    );
    await withdrawVersions(ctx, scope, mine.slice(0, -1), save.signal);
  }
  throw new RemoteError(
    `[storage] Saving ${describeHandle(scope, handle)}: its blob was collected by a garbage collection three times; is a collection running with a pin lifetime shorter than this save?`,
    { retryable: true },
  );
}

type Published = { ref: CheckpointRef; defaultRef?: CheckpointRef };

/**
 * How publishing a pinned blob went. `collected`: the blob was found doomed or gone — before
 * any ref was written (`refs` undefined: nothing to undo), or after (`refs` and `written` name
 * the versions written, which name a blob that may be gone: the caller stores it again).
 */
interface Outcome {
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
async function publishPinned(
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
async function repoint(
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

function checkMetadata(
  ctx: StoreContext,
  given: CheckpointMetadata | undefined,
): CheckpointMetadata {
  const parsed = CheckpointMetadataSchema.safeParse(given ?? {});
  if (!parsed.success) throw ValidationError.fromZod("storage", "metadata", parsed.error);
  const metadata: CheckpointMetadata = { packageVersion: ctx.packageVersion, ...parsed.data };
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch (cause) {
    throw ValidationError.forField(
      "storage",
      "metadata",
      `is not JSON-serializable (${String(cause)})`,
    );
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw ValidationError.forField(
      "storage",
      "metadata",
      `is ${Buffer.byteLength(json)} bytes of JSON, over the limit of ${MAX_METADATA_BYTES}: keep large data in the checkpoint folder`,
    );
  }
  return JSON.parse(json) as CheckpointMetadata;
}

interface Uploaded {
  record: IndexRecord;
  pin: Pin;
  /** Whether `record` is ours (false: an identical stored checkpoint was claimed instead). */
  published: boolean;
  bytes: number;
  files?: import("../archive/pack-folder.js").PackedFile[];
}

/** Streams the archive and manifest to a fresh pinned blob id and publishes its index record. */
async function uploadBlob(
  ctx: StoreContext,
  scope: Scope,
  entries: Awaited<ReturnType<typeof walkFolder>>,
  save: SaveCheckpointOptions,
): Promise<Uploaded> {
  const { backend } = ctx;
  const id = newBlobId();
  const pin = await pinBlob(backend, scope, id, { ttlMs: ctx.pinTtlMs, signal: save.signal });
  try {
    const total = save.onProgress ? await archiveSizeEstimate(entries) : undefined;
    const { stream, result } = packFolder({
      entries,
      compression: ctx.compression,
      gzipLevel: ctx.gzipLevel,
      limits: ctx.limits,
      signal: save.signal,
    });
    let sent = 0;
    let lastReported = -1;
    const report = (done: boolean) => {
      if (!save.onProgress || (!done && sent - lastReported < 256 * 1024)) return;
      lastReported = sent;
      // The total is an estimate until the archive is complete; then it is exact, so the last
      // report says 100 % (a compressed archive ends below the estimate, a long path above it).
      save.onProgress({
        phase: "upload",
        bytes: sent,
        ...(done ? { total: sent } : total === undefined ? {} : { total: Math.max(total, sent) }),
      });
    };
    // A compressed archive's framing is not covered by the manifest: hash what is stored.
    const stored = ctx.compression === "gzip" ? createHash("sha256") : undefined;
    // Counted and reported as the backend pulls it. No "data" listener: that would switch the
    // stream to flowing mode, and every chunk emitted before the backend starts reading (a file
    // backend still opening its temp file, an S3 backend checking its bucket) would be lost.
    const counted = stream.pipe(
      new Transform({
        highWaterMark: 1024 * 1024,
        transform(chunk: Buffer, _encoding, done) {
          sent += chunk.length;
          stored?.update(chunk);
          report(false);
          done(null, chunk);
        },
      }),
    );
    stream.once("error", (error) => counted.destroy(error));
    const archiveKey = blobKey(scope, id, ctx.compression);
    await backend.put(archiveKey, counted, { signal: save.signal });
    const packed = await result;
    report(true);
    await backend.put(manifestKey(scope, id), Readable.from(packed.manifest), {
      ifNoneMatch: packed.manifestSize <= 4 * 1024 * 1024 ? "*" : undefined,
      contentLength: packed.manifestSize,
      contentType: "application/x-ndjson",
      signal: save.signal,
    });
    const record: IndexRecord = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      digest: packed.digest,
      blobId: id,
      size: sent,
      compression: ctx.compression,
      ...(stored ? { storedSha256: stored.digest("hex") } : {}),
      manifestSize: packed.manifestSize,
      fileCount: packed.fileCount,
      directoryCount: packed.directoryCount,
      totalBytes: packed.totalBytes,
      createdAt: ctx.now().toISOString(),
    };
    // An identical checkpoint stored meanwhile (or before, unknown to this machine): keep one copy.
    const existing = await claimStoredBlob(backend, scope, packed.digest, {
      ttlMs: ctx.pinTtlMs,
      signal: save.signal,
    });
    if (existing) {
      await pin.release(save.signal);
      await Promise.all([
        backend.delete(archiveKey).catch(() => {}),
        backend.delete(manifestKey(scope, id)).catch(() => {}),
      ]);
      return {
        record: existing.record,
        pin: existing.pin,
        published: false,
        bytes: sent,
        files: packed.files,
      };
    }
    await publishIndexRecord(backend, scope, record, save.signal);
    return { record, pin, published: true, bytes: sent, files: packed.files };
  } catch (error) {
    await pin.release(save.signal);
    throw error;
  }
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

export function refOf(
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

/** Sum of the file sizes (for progress totals only). */
/**
 * The size of the (uncompressed) canonical tar of `entries`: a 512-byte header per entry, file
 * data padded to 512 bytes, two zero blocks. Exact unless a path needs a pax header.
 */
async function archiveSizeEstimate(
  entries: Awaited<ReturnType<typeof walkFolder>>,
): Promise<number> {
  const files = entries.filter((entry) => entry.type === "file");
  const sizes = await mapLimit(files, 64, (file) =>
    lstat(file.abs).then(
      (st) => st.size,
      () => 0,
    ),
  );
  const data = sizes.reduce((a, b) => a + Math.ceil(b / 512) * 512, 0);
  return entries.length * 512 + data + 1024;
}
