import { createHash } from "node:crypto";
import { lstat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { CHECKPOINT_FORMAT_VERSION, type SaveCheckpointOptions } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { type PackedFile, packFolder } from "../archive/pack-folder.js";
import type { FolderEntry } from "../archive/walk-folder.js";
import {
  claimStoredBlob,
  type IndexRecord,
  type Pin,
  pinBlob,
  publishIndexRecord,
} from "./blob-registry.js";
import { blobKey, manifestKey, newBlobId, type Scope } from "./keys.js";
import type { StoreContext } from "./store-context.js";

export interface Uploaded {
  record: IndexRecord;
  pin: Pin;
  /** Whether `record` is ours (false: an identical stored checkpoint was claimed instead). */
  published: boolean;
  bytes: number;
  files?: PackedFile[];
}

/** Streams the archive and manifest to a fresh pinned blob id and publishes its index record. */
export async function uploadBlob(
  ctx: StoreContext,
  scope: Scope,
  entries: FolderEntry[],
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

/**
 * The size of the (uncompressed) canonical tar of `entries`: a 512-byte header per entry, file
 * data padded to 512 bytes, two zero blocks. Exact unless a path needs a pax header.
 */
async function archiveSizeEstimate(entries: FolderEntry[]): Promise<number> {
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
