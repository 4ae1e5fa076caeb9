/**
 * Plants a checkpoint in a store the way an attacker with write access to the bucket would:
 * straight through the backend, with a ref that is internally consistent — the manifest digest
 * computed over the listed files, the archive's own sha256 and size matching the bytes — so
 * that every check before extraction passes and the archive itself has to be refused.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { CheckpointFile, CheckpointRef } from "@trainable/core";
import type { RemoteBackend } from "@trainable/storage";

export type ArchiveBytes = { bytes: Buffer } | { path: string };

export interface PlantOptions {
  backend: RemoteBackend;
  workspace: string;
  pluginInstanceId: string;
  handle?: string;
  /** The manifest the ref lists (may hold anything: it is not checked here). */
  files: CheckpointFile[];
  directories?: string[];
  compression: "none" | "gzip";
  archive: ArchiveBytes;
}

/** `sha256:` of the canonical manifest, computed without any check of the paths. */
export function rawManifestDigest(
  files: readonly CheckpointFile[],
  directories: readonly string[] = [],
): string {
  const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const sorted = [...files].sort((a, b) => byBytes(a.path, b.path));
  const canonical = `[${[
    ...sorted.map(
      (f) =>
        `{"path":${JSON.stringify(f.path)},"size":${f.size},"sha256":${JSON.stringify(f.sha256)}}`,
    ),
    ...[...directories].sort(byBytes).map((d) => `{"dir":${JSON.stringify(d)}}`),
  ].join(",")}]`;
  return `sha256:${createHash("sha256").update(canonical, "utf8").digest("hex")}`;
}

export const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

async function describeArchive(archive: ArchiveBytes): Promise<{ size: number; sha256: string }> {
  if ("bytes" in archive) return { size: archive.bytes.length, sha256: sha256Hex(archive.bytes) };
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(archive.path)) hash.update(chunk as Buffer);
  return { size: (await stat(archive.path)).size, sha256: hash.digest("hex") };
}

export async function plantCheckpoint(options: PlantOptions): Promise<CheckpointRef> {
  const handle = options.handle ?? "default";
  const scope = `${options.workspace}/${options.pluginInstanceId}`;
  const digest = rawManifestDigest(options.files, options.directories);
  const archivePath = `${scope}/blobs/sha256/${digest.slice(7)}${options.compression === "gzip" ? ".tar.gz" : ".tar"}`;
  const { size, sha256 } = await describeArchive(options.archive);
  const body =
    "bytes" in options.archive ? options.archive.bytes : createReadStream(options.archive.path);
  await options.backend.put(archivePath, body, { contentLength: size });
  const sidecar = Buffer.from(
    JSON.stringify({ size, archiveSha256: sha256, compression: options.compression }),
  );
  await options.backend.put(`${archivePath}.json`, sidecar, { contentLength: sidecar.length });
  let seq = 0;
  for await (const info of options.backend.list(`${scope}/refs/${handle}/`)) {
    const m = /\/(\d{12})\.json$/.exec(info.key);
    if (m) seq = Math.max(seq, Number(m[1]) + 1);
  }
  const ref: CheckpointRef = {
    schemaVersion: 1,
    handle,
    digest,
    size,
    archiveSha256: sha256,
    compression: options.compression,
    archivePath,
    files: options.files,
    ...(options.directories ? { directories: options.directories } : {}),
    createdAt: new Date().toISOString(),
    parent: null,
    metadata: { modelClass: "Planted" },
  };
  const refBytes = Buffer.from(JSON.stringify(ref, null, 2));
  await options.backend.put(
    `${scope}/refs/${handle}/${String(seq).padStart(12, "0")}.json`,
    refBytes,
    {
      contentLength: refBytes.length,
      contentType: "application/json",
    },
  );
  return ref;
}
