import type { CheckpointFile } from "@trainable/core";
import { entryPathProblem } from "./entry-path-problem.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Same bound as the `CheckpointFile` schema, in UTF-8 bytes. */
const MAX_PATH_BYTES = 4096;

/** What is wrong with one manifest entry (path, size, sha256), or `undefined`. */
export function checkpointFileProblem(file: CheckpointFile): string | undefined {
  if (file === null || typeof file !== "object") return "must be an object";
  if (typeof file.path !== "string") return "path must be a string";
  const pathProblem = entryPathProblem(file.path);
  if (pathProblem !== undefined) return pathProblem;
  if (Buffer.byteLength(file.path) > MAX_PATH_BYTES) {
    return `path is longer than ${MAX_PATH_BYTES} bytes`;
  }
  if (!Number.isSafeInteger(file.size) || file.size < 0) {
    return "size must be a non-negative integer";
  }
  if (typeof file.sha256 !== "string" || !SHA256_HEX.test(file.sha256)) {
    return "sha256 must be 64 lowercase hex characters";
  }
  return undefined;
}
