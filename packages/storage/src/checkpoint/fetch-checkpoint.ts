import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type CheckpointLocator,
  type CheckpointManifest,
  type CheckpointRef,
  DEFAULT_HANDLE,
  type FetchCheckpointOptions,
  IntegrityError,
  NotFoundError,
  validateId,
} from "@trainable/core";
import { extractArchive } from "../archive/extract-archive.js";
import { type ManifestEntry, readManifestEntries } from "../archive/manifest.js";
import { quarantineBlob, readIndexRecord } from "./blob-registry.js";
import { indexKey, manifestKey, parseBlobsKey, type Scope } from "./keys.js";
import { openDownload } from "./open-download.js";
import { readNewestVersion } from "./ref-log.js";
import { describeHandle, type StoreContext, scopeOf } from "./store-context.js";

/** The current ref of a handle (`NotFoundError` naming scope and handle when there is none). */
export async function resolveRef(
  ctx: StoreContext,
  locator: CheckpointLocator,
): Promise<CheckpointRef> {
  return resolveIn(ctx, scopeOf(ctx, locator.pluginInstanceId), locator);
}

/** `resolveRef` in a scope already checked. */
async function resolveIn(
  ctx: StoreContext,
  scope: Scope,
  locator: CheckpointLocator,
): Promise<CheckpointRef> {
  if (locator.ref) return locator.ref;
  const handle = validateId(locator.handle ?? DEFAULT_HANDLE, "handle");
  const newest = await readNewestVersion(ctx.backend, scope, handle, locator.signal);
  if (newest?.kind !== "ref") {
    throw new NotFoundError(`[storage] No checkpoint at ${describeHandle(scope, handle)}`);
  }
  return newest.ref;
}

/** The blob a ref names, checked to lie in the ref's scope. */
export function blobOf(
  scope: Scope,
  ref: CheckpointRef,
): { id: string; archiveKey: string; manifestKey: string } {
  const parsed = parseBlobsKey(ref.archivePath, scope);
  if (parsed?.kind !== "archive" || parsed.compression !== ref.compression) {
    throw new IntegrityError(
      `[storage] Ref ${describeHandle(scope, ref.handle)} names an archive ${JSON.stringify(ref.archivePath)} that is not a ${ref.compression === "gzip" ? ".tar.gz" : ".tar"} blob of ${scope.workspace}/${scope.pluginInstanceId}: refusing it`,
    );
  }
  return { id: parsed.id, archiveKey: ref.archivePath, manifestKey: manifestKey(scope, parsed.id) };
}

/**
 * The verified manifest entries of a ref, streamed: each line checked as it comes, then its
 * digest, and the ref's counts (files, directories, bytes) against what it listed.
 */
async function* manifestEntries(
  ctx: StoreContext,
  scope: Scope,
  ref: CheckpointRef,
  signal?: AbortSignal,
): AsyncGenerator<ManifestEntry> {
  const { manifestKey: key } = blobOf(scope, ref);
  const what = `the manifest of ${describeHandle(scope, ref.handle)} (${key})`;
  const counts = { files: 0, directories: 0, bytes: 0 };
  for await (const entry of readManifestEntries(
    openDownload({ backend: ctx.backend, key, size: ref.manifestSize, what, signal }),
    { digest: ref.digest, size: ref.manifestSize, what, limits: ctx.limits },
  )) {
    if (entry.type === "file") {
      counts.files++;
      counts.bytes += entry.size;
    } else {
      counts.directories++;
    }
    yield entry;
  }
  if (
    counts.files !== ref.fileCount ||
    counts.directories !== ref.directoryCount ||
    counts.bytes !== ref.totalBytes
  ) {
    throw new IntegrityError(
      `[storage] Ref ${describeHandle(scope, ref.handle)} says ${ref.fileCount} files, ${ref.directoryCount} directories and ${ref.totalBytes} bytes; its manifest lists ${counts.files}, ${counts.directories} and ${counts.bytes}`,
    );
  }
}

export async function readManifest(
  ctx: StoreContext,
  locator: CheckpointLocator,
): Promise<CheckpointManifest> {
  const scope = scopeOf(ctx, locator.pluginInstanceId);
  const ref = await resolveIn(ctx, scope, locator);
  const manifest: CheckpointManifest = { files: [], directories: [] };
  for await (const entry of manifestEntries(ctx, scope, ref, locator.signal)) {
    if (entry.type === "file") {
      manifest.files.push({ path: entry.path, size: entry.size, sha256: entry.sha256 });
    } else {
      manifest.directories.push(entry.path);
    }
  }
  return manifest;
}

/**
 * Downloads a checkpoint into `target`: its manifest and archive stream side by side into an
 * extractor that checks every archive byte against the manifest, which is itself checked
 * against the ref's digest. A blob found damaged is quarantined (no save reuses it).
 */
export async function fetchCheckpoint(
  ctx: StoreContext,
  fetch: FetchCheckpointOptions,
): Promise<CheckpointRef> {
  const scope = scopeOf(ctx, fetch.pluginInstanceId);
  const ref = await resolveIn(ctx, scope, fetch);
  const blob = blobOf(scope, ref);
  const what = `the blob of ${describeHandle(scope, ref.handle)} (${ref.archivePath})`;
  // Parents created for the target are removed again when the load fails.
  const createdParent = await mkdir(dirname(fetch.target), { recursive: true });
  const source = openDownload({
    backend: ctx.backend,
    key: blob.archiveKey,
    size: ref.size,
    what,
    ...(ref.storedSha256 ? { sha256: ref.storedSha256 } : {}),
    signal: fetch.signal,
    onBytes: fetch.onProgress
      ? (bytes) => fetch.onProgress?.({ phase: "download", bytes, total: ref.size })
      : undefined,
  });
  try {
    await extractArchive({
      source,
      manifest: manifestEntries(ctx, scope, ref, fetch.signal),
      target: fetch.target,
      compression: ref.compression,
      what,
      durable: ctx.durable,
      signal: fetch.signal,
    });
  } catch (error) {
    source.destroy();
    if (createdParent !== undefined) {
      await rm(createdParent, { recursive: true, force: true }).catch(() => {});
    }
    if (IntegrityError.isInstance(error) && !fetch.signal?.aborted) {
      // Damaged (or missing) stored data, not a transfer problem: never reuse that blob — but
      // only when the ref agrees with the blob's own index record, so a wrong ref (handed in
      // by a caller, or planted) cannot get a healthy blob quarantined.
      const record = await readIndexRecord(
        ctx.backend,
        indexKey(scope, ref.digest, blob.id),
        fetch.signal,
      ).catch(() => undefined);
      if (
        record?.size === ref.size &&
        record.manifestSize === ref.manifestSize &&
        record.compression === ref.compression &&
        record.storedSha256 === ref.storedSha256 &&
        record.fileCount === ref.fileCount &&
        record.directoryCount === ref.directoryCount &&
        record.totalBytes === ref.totalBytes
      ) {
        await quarantineBlob(ctx.backend, scope, blob.id, {
          digest: ref.digest,
          reason: error.message,
          signal: fetch.signal,
        }).catch(() => {});
      }
    }
    throw error;
  }
  return ref;
}
