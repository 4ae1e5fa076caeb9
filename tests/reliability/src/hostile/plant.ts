/**
 * Plants a checkpoint in a store (format version 2) the way an attacker with write access to
 * the bucket would: straight through the backend, internally consistent so that every check
 * before extraction passes and the archive (or the manifest) itself has to be refused:
 *
 * - the archive under a new blob id: `blobs/{id}.tar[.gz]`;
 * - its manifest beside it, `blobs/{id}.manifest`: canonical lines (of whatever paths the
 *   attacker likes), the ref's digest being their sha256 and its counts theirs;
 * - a new newest version of the handle's ref pointing at it: the key one below the current
 *   newest (`refs/{handle}/{12 digits}.json`, versions count down), written create-only;
 * - the store's format marker when the store has none (else the store is refused as v1).
 *
 * No index record is written unless asked: a planted blob is then never reused by a save.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { CheckpointRef, ManifestEntry } from "@trainable/core";
import { PreconditionFailedError, type RemoteBackend } from "@trainable/storage";
import { rawManifest } from "./craft-tar.js";

export type ArchiveBytes = { bytes: Buffer } | { path: string };

export interface PlantOptions {
  backend: RemoteBackend;
  workspace: string;
  pluginInstanceId: string;
  handle?: string;
  /** The manifest (may hold anything: it is not checked here); or its raw bytes. */
  manifest: readonly ManifestEntry[] | { bytes: Buffer };
  compression: "none" | "gzip";
  archive: ArchiveBytes;
  /** Also publish an index record for the blob (default false). */
  indexRecord?: boolean;
}

export interface Planted {
  ref: CheckpointRef;
  blobId: string;
  archiveKey: string;
  manifestKey: string;
  refKey: string;
}

export const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

const MAX_SEQ = 999_999_999_999;
const MARKER_KEY = "_trainable-store.json";

/** A fresh blob id, as the store makes them: `{9 base36 chars}-{16 hex}`. */
function newBlobId(): string {
  return `${Date.now().toString(36).padStart(9, "0")}-${randomBytes(8).toString("hex")}`;
}

/** Files, directories and bytes a manifest lists (counted leniently: it may be hostile). */
function countsOf(bytes: Buffer) {
  const counts = { fileCount: 0, directoryCount: 0, totalBytes: 0 };
  for (const line of bytes.toString("utf8").split("\n")) {
    if (!line) continue;
    try {
      const json = JSON.parse(line);
      if (typeof json.dir === "string") counts.directoryCount++;
      else {
        counts.fileCount++;
        counts.totalBytes += Number(json.size) || 0;
      }
    } catch {
      counts.fileCount++;
    }
  }
  return counts;
}

/** Writes the store's format marker unless it has one. */
async function ensureFormatMarker(backend: RemoteBackend): Promise<void> {
  if (await backend.head(MARKER_KEY)) return;
  const body = Buffer.from(
    `${JSON.stringify({ format: "trainable-checkpoint-store", formatVersion: 2 })}\n`,
  );
  await backend
    .put(MARKER_KEY, body, { ifNoneMatch: "*", contentLength: body.length })
    .catch((error) => {
      if (!PreconditionFailedError.isInstance(error)) throw error;
    });
}

/** Appends a ref version (raw bytes, or a ref) as the handle's new newest version. */
async function appendRefVersion(
  backend: RemoteBackend,
  options: { scope: string; handle: string; body: Buffer },
): Promise<string> {
  const { scope, handle, body } = options;
  let newest: number | undefined;
  for await (const info of backend.list(`${scope}refs/${handle}/`, { limit: 1 })) {
    const m = /\/(\d{12})\.json$/.exec(info.key);
    if (m) newest = Number(m[1]);
    break;
  }
  const version = newest === undefined ? MAX_SEQ : newest - 1;
  const key = `${scope}refs/${handle}/${String(version).padStart(12, "0")}.json`;
  await backend.put(key, body, {
    ifNoneMatch: "*",
    contentLength: body.length,
    contentType: "application/json",
  });
  return key;
}

/** The digest the handle points at now (null: none, or unreadable). */
async function currentDigest(
  backend: RemoteBackend,
  scope: string,
  handle: string,
): Promise<string | null> {
  for await (const info of backend.list(`${scope}refs/${handle}/`, { limit: 1 })) {
    try {
      const { body } = await backend.get(info.key);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      return json.deleted === true ? null : (json.digest ?? null);
    } catch {
      return null;
    }
  }
  return null;
}

export async function plantCheckpoint(options: PlantOptions): Promise<Planted> {
  const { backend } = options;
  const handle = options.handle ?? "default";
  const scope = `${options.workspace}/${options.pluginInstanceId}/`;
  await ensureFormatMarker(backend);
  const blobId = newBlobId();
  const archiveKey = `${scope}blobs/${blobId}${options.compression === "gzip" ? ".tar.gz" : ".tar"}`;
  const manifestKey = `${scope}blobs/${blobId}.manifest`;
  const size =
    "bytes" in options.archive
      ? options.archive.bytes.length
      : (await stat(options.archive.path)).size;
  await backend.put(
    archiveKey,
    "bytes" in options.archive ? options.archive.bytes : createReadStream(options.archive.path),
    { contentLength: size },
  );
  const manifestBytes =
    "bytes" in options.manifest ? options.manifest.bytes : rawManifest(options.manifest);
  await backend.put(manifestKey, manifestBytes, {
    contentLength: manifestBytes.length,
    contentType: "application/x-ndjson",
  });
  const digest = `sha256:${sha256Hex(manifestBytes)}`;
  const counts = countsOf(manifestBytes);
  const createdAt = new Date().toISOString();
  if (options.indexRecord) {
    const record = Buffer.from(
      JSON.stringify({
        formatVersion: 2,
        digest,
        blobId,
        size,
        compression: options.compression,
        manifestSize: manifestBytes.length,
        ...counts,
        createdAt,
      }),
    );
    await backend.put(`${scope}index/sha256/${digest.slice(7)}/${blobId}.json`, record, {
      ifNoneMatch: "*",
      contentLength: record.length,
    });
  }
  const ref: CheckpointRef = {
    formatVersion: 2,
    handle,
    digest,
    archivePath: archiveKey,
    size,
    compression: options.compression,
    manifestSize: manifestBytes.length,
    ...counts,
    createdAt,
    parent: await currentDigest(backend, scope, handle),
    metadata: { modelClass: "Planted" },
  };
  const refKey = await appendRefVersion(backend, {
    scope,
    handle,
    body: Buffer.from(`${JSON.stringify(ref, null, 1)}\n`),
  });
  return { ref, blobId, archiveKey, manifestKey, refKey };
}
