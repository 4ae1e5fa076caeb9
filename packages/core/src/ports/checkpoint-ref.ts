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

/**
 * A named pointer to a stored checkpoint: one version of a handle, the JSON document at
 * `…/refs/<handle>/<seq>.json` (the highest `seq` is current).
 * `digest` is `sha256:<hex>` of the manifest of files and directories (see docs/architecture.md); the blob
 * lives at `archivePath`, and `archiveSha256`/`size` describe the archive bytes themselves.
 */
export const CheckpointRef = z.object({
  schemaVersion: z.literal(1),
  handle: Id,
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be "sha256:" and 64 hex characters'),
  size: z.number().int().min(0),
  archiveSha256: Sha256Hex,
  compression: z.enum(["none", "gzip"]),
  archivePath: z.string().min(1).max(2048),
  files: z.array(CheckpointFile).max(1_000_000),
  /** Every directory of the folder, so empty ones survive (they are part of the digest). */
  directories: z.array(z.string().min(1).max(4096)).max(1_000_000).optional(),
  createdAt: z.iso.datetime({ offset: true }),
  /** The digest this handle pointed at before this ref was written, if any. */
  parent: z.string().nullable().optional(),
  metadata: CheckpointMetadata,
});
export type CheckpointRef = z.infer<typeof CheckpointRef>;
