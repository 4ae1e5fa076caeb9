import { createHash } from "node:crypto";
import { type CheckpointFile, ValidationError } from "@trainable/core";
import { checkpointFileProblem } from "./checkpoint-file-problem.js";
import { comparePaths } from "./compare-paths.js";

/**
 * The content digest of a checkpoint: `"sha256:" + hex(SHA-256(canonical))`. It depends only on
 * the files' paths, sizes and sha256s, so it is known before any upload starts and identical
 * folders give identical digests whatever the archive compression. Directories take part (so
 * two folders that differ only by an empty directory are different checkpoints).
 *
 * The canonical form, hashed as its UTF-8 bytes:
 * - a JSON array with no whitespace anywhere, one object per file;
 * - objects sorted by `path` in ascending UTF-8 byte order (paths are unique);
 * - each object has exactly three keys in this order: `path` (a JSON string, `/` separators, no
 *   leading `./`), `size` (a base-10 integer, no sign/exponent/fraction), `sha256` (64 lowercase
 *   hex characters);
 * - strings are written as ECMAScript `JSON.stringify` writes them: `"` and `\` escaped with a
 *   backslash, U+0000–U+001F as `\b \t \n \f \r` or `\u00xx` (lowercase hex), everything else
 *   (including non-ASCII and `/`) verbatim.
 *
 * - then, when the folder has directories, one `{"dir":<path>}` object per directory (every
 *   directory, empty or not), sorted the same way, after all the files.
 *
 * Example: `[{"path":"a/b.bin","size":3,"sha256":"ba7816bf…"},{"path":"c.json","size":0,…},{"dir":"a"}]`.
 * An empty folder is `[]`.
 */
export function manifestDigest(
  files: readonly CheckpointFile[],
  directories: readonly string[] = [],
): string {
  const sorted = [...files].sort((a, b) => comparePaths(a.path, b.path));
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const file = sorted[i]!;
    checkFile(file);
    if (i > 0 && sorted[i - 1]!.path === file.path) {
      throw new ValidationError(
        `[storage] [archive] Invalid manifest: path ${JSON.stringify(file.path)} is listed twice`,
        { issues: [{ path: "files", message: `duplicate path ${JSON.stringify(file.path)}` }] },
      );
    }
    parts.push(
      `{"path":${JSON.stringify(file.path)},"size":${file.size},"sha256":${JSON.stringify(file.sha256)}}`,
    );
  }
  const dirs = [...directories].sort(comparePaths);
  for (let i = 0; i < dirs.length; i++) {
    if (i > 0 && dirs[i - 1] === dirs[i]) {
      throw new ValidationError(
        `[storage] [archive] Invalid manifest: directory ${JSON.stringify(dirs[i])} is listed twice`,
        { issues: [{ path: "directories", message: `duplicate path ${JSON.stringify(dirs[i])}` }] },
      );
    }
    parts.push(`{"dir":${JSON.stringify(dirs[i])}}`);
  }
  const canonical = `[${parts.join(",")}]`;
  return `sha256:${createHash("sha256").update(canonical, "utf8").digest("hex")}`;
}

function checkFile(file: CheckpointFile): void {
  const problem = checkpointFileProblem(file);
  if (problem !== undefined) {
    throw new ValidationError(
      `[storage] [archive] Invalid manifest entry ${JSON.stringify(file?.path)}: ${problem}`,
      { issues: [{ path: "files", message: problem }] },
    );
  }
}
