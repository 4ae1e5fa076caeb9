import { z } from "zod";
import { Id } from "../schemas/id.js";
import { JsonObject } from "../schemas/json-object.js";

const Sha256Hex = z
  .string()
  .regex(/^[a-f0-9]{64}$/, "must be 64 lowercase hex characters (sha256)");

/** One file of a checkpoint folder, as recorded in its ref. */
export const CheckpointFile = z.object({
  path: z.string().min(1).max(4096),
  size: z.number().int().min(0),
  sha256: Sha256Hex,
});
export type CheckpointFile = z.infer<typeof CheckpointFile>;

/** What a user wants to know about a checkpoint later. Free-form keys are kept. */
export const CheckpointMetadata = z
  .object({
    trainPluginInput: JsonObject.optional(),
    trainingResults: JsonObject.optional(),
    packageVersion: z.string().optional(),
    modelClass: z.string().optional(),
  })
  .catchall(z.unknown());
export type CheckpointMetadata = z.infer<typeof CheckpointMetadata>;

/** The version of the stored checkpoint format this package reads and writes. */
export const CHECKPOINT_FORMAT_VERSION = 2;

const Digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be "sha256:" and 64 hex characters');
const Count = z.number().int().min(0);

/**
 * A named pointer to a stored checkpoint: one version of a handle, the small JSON document at
 * `…/refs/<handle>/<version>.json`. Its size does not depend on the folder: the list of files
 * lives in the checkpoint's manifest, a separate object whose sha256 is `digest`.
 *
 * - `digest`: `sha256:` of the canonical manifest (see docs/architecture.md), which identifies
 *   the folder's content: paths, sizes and sha256 of every file, and every directory.
 * - `archivePath`: the key of the archive (the blob), a tar whose bytes are a function of the
 *   manifest; `size` is its size in bytes, `compression` how it is stored.
 * - `manifestSize`, `fileCount`, `directoryCount`, `totalBytes` describe the manifest and the
 *   folder (bytes of file data).
 */
export const CheckpointRef = z.object({
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  handle: Id,
  digest: Digest,
  archivePath: z.string().min(1).max(1024),
  size: Count,
  compression: z.enum(["none", "gzip"]),
  /**
   * sha256 of the stored archive bytes, for compressed archives: the compression's own
   * framing (gzip header fields) is not covered by the manifest, so it is checked as a whole.
   */
  storedSha256: Sha256Hex.optional(),
  manifestSize: Count,
  fileCount: Count,
  directoryCount: Count,
  totalBytes: Count,
  createdAt: z.iso.datetime({ offset: true }),
  /** The digest this handle pointed at before this version was written, if any. */
  parent: Digest.nullable().optional(),
  metadata: CheckpointMetadata,
});
export type CheckpointRef = z.infer<typeof CheckpointRef>;

/** A checkpoint's manifest: every file (path, size, sha256) and every directory, sorted. */
export interface CheckpointManifest {
  files: CheckpointFile[];
  directories: string[];
}
