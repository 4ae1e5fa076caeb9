import { createHash } from "node:crypto";
import type { CheckpointManifest } from "../ports/checkpoint-ref.js";
import { comparePaths } from "./compare-paths.js";

/** One entry of a checkpoint folder, in archive order. */
export type ManifestEntry =
  | { type: "file"; path: string; size: number; sha256: string }
  | { type: "directory"; path: string };

/**
 * The canonical line of one entry. A checkpoint's manifest is these lines, in ascending UTF-8
 * byte order of the paths, each ending in `\n`; its digest is `sha256:` + the sha256 of those
 * bytes (docs/architecture.md, "Digest").
 *
 * - a file: `{"path":<path>,"size":<size>,"sha256":<hex>}`
 * - a directory: `{"dir":<path>}`
 *
 * Strings are written as `JSON.stringify` writes them, sizes as base-10 integers. Exactly one
 * byte sequence describes a given folder, so the digest identifies it.
 */
export function manifestLine(entry: ManifestEntry): string {
  return entry.type === "file"
    ? `{"path":${JSON.stringify(entry.path)},"size":${entry.size},"sha256":"${entry.sha256}"}\n`
    : `{"dir":${JSON.stringify(entry.path)}}\n`;
}

/** The entries of a manifest in archive order (files and directories merged by path). */
export function manifestEntries(manifest: CheckpointManifest): ManifestEntry[] {
  const entries: ManifestEntry[] = [
    ...manifest.files.map((f) => ({ type: "file" as const, ...f })),
    ...manifest.directories.map((path) => ({ type: "directory" as const, path })),
  ];
  return entries.sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * The digest of a manifest: `sha256:` + hex of its canonical lines. Entries are sorted here;
 * their validity (safe, unique paths; parents listed) is the caller's to check.
 */
export function manifestDigest(manifest: CheckpointManifest | readonly ManifestEntry[]): string {
  const entries = Array.isArray(manifest)
    ? [...(manifest as readonly ManifestEntry[])].sort((a, b) => comparePaths(a.path, b.path))
    : manifestEntries(manifest as CheckpointManifest);
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(manifestLine(entry));
  return `sha256:${hash.digest("hex")}`;
}
