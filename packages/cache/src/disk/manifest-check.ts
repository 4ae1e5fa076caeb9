import {
  type CheckpointFile,
  type CheckpointManifest,
  type CheckpointRef,
  manifestDigest,
  manifestLine,
} from "@trainable/core";

const SHA256_HEX = /^[a-f0-9]{64}$/;

function isFile(value: unknown): value is CheckpointFile {
  const v = value as Partial<CheckpointFile> | null;
  return (
    !!v &&
    typeof v === "object" &&
    typeof v.path === "string" &&
    v.path.length > 0 &&
    v.path.length <= 4096 &&
    typeof v.size === "number" &&
    Number.isSafeInteger(v.size) &&
    v.size >= 0 &&
    typeof v.sha256 === "string" &&
    SHA256_HEX.test(v.sha256)
  );
}

/**
 * A manifest as read back from a completion marker: `{ files, directories }` with well-formed
 * fields (unknown fields dropped), or `undefined`. Whether it is the checkpoint's manifest is
 * {@link manifestProblem}'s to say.
 */
export function parseManifest(value: unknown): CheckpointManifest | undefined {
  const v = value as Partial<CheckpointManifest> | null;
  if (!v || typeof v !== "object" || !Array.isArray(v.files) || !Array.isArray(v.directories)) {
    return undefined;
  }
  if (!v.files.every(isFile)) return undefined;
  if (!v.directories.every((d) => typeof d === "string" && d.length > 0 && d.length <= 4096)) {
    return undefined;
  }
  return {
    files: v.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
    directories: [...v.directories],
  };
}

/** Bytes of file data a manifest describes. */
export function manifestBytes(manifest: CheckpointManifest): number {
  return manifest.files.reduce((sum, file) => sum + file.size, 0);
}

/**
 * What is wrong with `manifest` as the manifest of `ref`, or `undefined`: its v2 digest
 * (`manifestDigest` of `@trainable/core`) must be the ref's digest, and its counts, bytes and
 * size the ref's. The digest alone ties the manifest to the checkpoint; the rest catches a
 * ref that disagrees with its own manifest.
 */
export function manifestProblem(
  ref: CheckpointRef,
  manifest: CheckpointManifest,
): string | undefined {
  if (manifestDigest(manifest) !== ref.digest) return "lists files that do not match the digest";
  if (
    manifest.files.length !== ref.fileCount ||
    manifest.directories.length !== ref.directoryCount
  ) {
    return `lists ${manifest.files.length} files and ${manifest.directories.length} directories, the ref says ${ref.fileCount} and ${ref.directoryCount}`;
  }
  const bytes = manifestBytes(manifest);
  if (bytes !== ref.totalBytes) {
    return `describes ${bytes} bytes of files, the ref says ${ref.totalBytes}`;
  }
  let size = 0;
  for (const file of manifest.files)
    size += Buffer.byteLength(manifestLine({ type: "file", ...file }));
  for (const path of manifest.directories) {
    size += Buffer.byteLength(manifestLine({ type: "directory", path }));
  }
  if (size !== ref.manifestSize) {
    return `is ${size} bytes long, the ref says ${ref.manifestSize}`;
  }
  return undefined;
}
