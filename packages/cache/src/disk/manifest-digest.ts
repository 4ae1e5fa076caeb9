import { createHash } from "node:crypto";
import type { CheckpointFile } from "@trainable/core";

/**
 * The content digest of a checkpoint's file manifest, exactly as `@trainable/storage` defines
 * it (`archive/manifest-digest.ts`, docs/architecture.md "Digest = sha256 of the file
 * manifest"): `sha256:` + hex sha256 of the UTF-8 JSON array of `{"path","size","sha256"}`
 * objects, no whitespace, sorted by path in UTF-8 byte order, followed by one `{"dir"}` object
 * per directory, sorted the same way.
 *
 * The cache recomputes it from a completion marker so that a marker's file list is tied to the
 * digest it claims, including offline, where no ref is read from the store.
 */
export function manifestDigest(
  files: readonly CheckpointFile[],
  directories: readonly string[] = [],
): string {
  const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const sorted = [...files].sort((a, b) => byBytes(a.path, b.path));
  const parts = sorted.map(
    (file) =>
      `{"path":${JSON.stringify(file.path)},"size":${file.size},"sha256":${JSON.stringify(file.sha256)}}`,
  );
  for (const dir of [...directories].sort(byBytes)) parts.push(`{"dir":${JSON.stringify(dir)}}`);
  return `sha256:${createHash("sha256")
    .update(`[${parts.join(",")}]`, "utf8")
    .digest("hex")}`;
}
