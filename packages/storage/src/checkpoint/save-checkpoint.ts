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
import { manifestDigest } from "../archive/manifest.js";
import { packFolder } from "../archive/pack-folder.js";
import { walkFolder } from "../archive/walk-folder.js";
import { mapLimit } from "../util/map-limit.js";
import {
  claimStoredBlob,
  type IndexRecord,
  isCollected,
  type Pin,
  pinBlob,
  publishIndexRecord,
} from "./blob-registry.js";
import { blobKey, manifestKey, newBlobId, type Scope } from "./keys.js";
import { appendVersion, type RefVersion, readNewestVersion } from "./ref-log.js";
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
 * 4. append the ref version(s), compare-and-swap when an expected digest is given;
 * 5. check the blob was not doomed by a concurrent garbage collection (else upload it again),
 *    then release the pin.
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
      const { refs, collected } = await publishPinned(
        ctx,
        scope,
        handle,
        claimed,
        metadata,
        save,
        newest,
      );
      if (!collected) return { ...refs, uploadedBytes: 0 };
      // Collected after all (a collection that ignored a stale pin): store it again below.
      repairing = refs.ref;
    }
  }

  for (let attempt = 0; attempt < 3; attempt++) {
    const clock = await fingerprints?.clock(folder);
    const uploaded = await uploadBlob(ctx, scope, entries, save);
    const { refs, collected } = repairing
      ? await repoint(ctx, scope, handle, uploaded, repairing, save)
      : await publishPinned(ctx, scope, handle, uploaded, metadata, save);
    if (!collected) {
      if (fingerprints && uploaded.files) {
        await fingerprints.remember(folder, uploaded.files, clock);
      }
      return { ...refs, uploadedBytes: uploaded.bytes };
    }
    repairing = refs.ref;
  }
  throw new RemoteError(
    `[storage] Saving ${describeHandle(scope, handle)}: its blob was collected by a garbage collection three times; is a collection running with a pin lifetime shorter than this save?`,
    { retryable: true },
  );
}

type Published = { ref: CheckpointRef; defaultRef?: CheckpointRef };

/**
 * Appends the refs naming a pinned blob, then checks that the blob was not collected
 * meanwhile (a collection that took our pin for stale): doomed, or already gone — a later
 * collection removes the doom of a blob it found deleted. When it was (`collected`), the refs
 * just written name a blob that may be gone, and the caller stores it again.
 */
async function publishPinned(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  claimed: { record: IndexRecord; pin: Pin },
  metadata: CheckpointMetadata,
  save: SaveCheckpointOptions,
  newest?: Promise<RefVersion | undefined>,
): Promise<{ refs: Published; collected: boolean }> {
  try {
    const refs = await publishRefs(
      ctx,
      scope,
      handle,
      claimed.record,
      metadata,
      save,
      save.expectedDigest,
      newest,
    );
    // The refs protect the blob now: the pin goes while the blob is checked.
    const [collected] = await Promise.all([
      wasCollected(ctx, scope, claimed.record, save.signal),
      claimed.pin.release(save.signal),
    ]);
    return { refs, collected };
  } finally {
    await claimed.pin.release(save.signal);
  }
}

/**
 * After a blob the refs named was collected: points the handle (and `default`) at the fresh
 * copy, from the version naming the lost one — unless someone moved them since, in which case
 * the lost version is no longer current and there is nothing to repoint. The caller's
 * compare-and-swap was satisfied by the first write; this one is ours.
 */
async function repoint(
  ctx: StoreContext,
  scope: Scope,
  handle: string,
  uploaded: { record: IndexRecord; pin: Pin },
  lost: CheckpointRef,
  save: SaveCheckpointOptions,
): Promise<{ refs: Published; collected: boolean }> {
  try {
    const fresh = refOf(ctx, scope, handle, uploaded.record, lost.metadata);
    const move = async (name: string): Promise<CheckpointRef | undefined> => {
      try {
        return (await appendVersion(
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
        )) as CheckpointRef;
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
    return { refs: { ref, ...(defaultRef ? { defaultRef } : {}) }, collected };
  } finally {
    await uploaded.pin.release(save.signal);
  }
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
    const total = save.onProgress ? await sizeOf(entries) : undefined;
    const { stream, result } = packFolder({
      entries,
      compression: ctx.compression,
      gzipLevel: ctx.gzipLevel,
      limits: ctx.limits,
      signal: save.signal,
    });
    let sent = 0;
    // A compressed archive's framing is not covered by the manifest: hash what is stored.
    const stored = ctx.compression === "gzip" ? createHash("sha256") : undefined;
    const counted = stream.pipe(
      new Transform({
        highWaterMark: 1024 * 1024,
        transform(chunk: Buffer, _encoding, done) {
          sent += chunk.length;
          stored?.update(chunk);
          done(null, chunk);
        },
      }),
    );
    stream.once("error", (error) => counted.destroy(error));
    let lastReported = -1;
    const report = (done: boolean) => {
      if (!save.onProgress || (!done && sent - lastReported < 256 * 1024)) return;
      lastReported = sent;
      save.onProgress({ phase: "upload", bytes: sent, ...(total === undefined ? {} : { total }) });
    };
    counted.on("data", () => report(false));
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
      return { record: existing.record, pin: existing.pin, bytes: sent, files: packed.files };
    }
    await publishIndexRecord(backend, scope, record, save.signal);
    return { record, pin, bytes: sent, files: packed.files };
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
): Promise<Published> {
  const base = refOf(ctx, scope, handle, record, metadata);
  const append = { history: ctx.refHistory, signal: save.signal, now: ctx.now };
  const ref = (await appendVersion(ctx.backend, scope, handle, base, {
    ...append,
    expectedDigest,
    newest,
  })) as CheckpointRef;
  let defaultRef: CheckpointRef | undefined;
  if ((save.setAsDefault ?? true) && handle !== DEFAULT_HANDLE) {
    defaultRef = await appendVersion(
      ctx.backend,
      scope,
      DEFAULT_HANDLE,
      { ...base, handle: DEFAULT_HANDLE },
      append,
    );
  }
  return { ref, defaultRef };
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
async function sizeOf(entries: Awaited<ReturnType<typeof walkFolder>>): Promise<number> {
  const files = entries.filter((entry) => entry.type === "file");
  const sizes = await mapLimit(files, 64, (file) =>
    lstat(file.abs).then(
      (st) => st.size,
      () => 0,
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
