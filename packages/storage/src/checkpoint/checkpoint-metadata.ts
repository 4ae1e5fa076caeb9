import {
  type CheckpointMetadata,
  CheckpointMetadata as CheckpointMetadataSchema,
  ValidationError,
} from "@trainable/core";

/** User metadata larger than this (as JSON) is refused: a ref stays small. */
const MAX_METADATA_BYTES = 32 * 1024;

/**
 * A save's metadata, checked (schema, JSON-serializable, at most {@link MAX_METADATA_BYTES})
 * and with this package's version recorded.
 */
export function checkMetadata(
  ctx: { packageVersion: string },
  given: CheckpointMetadata | undefined,
): CheckpointMetadata {
  const parsed = CheckpointMetadataSchema.safeParse(given ?? {});
  if (!parsed.success) throw ValidationError.fromZod("storage", "metadata", parsed.error);
  const metadata: CheckpointMetadata = { packageVersion: ctx.packageVersion, ...parsed.data };
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch (cause) {
    throw ValidationError.forField(
      "storage",
      "metadata",
      `is not JSON-serializable (${String(cause)})`,
    );
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw ValidationError.forField(
      "storage",
      "metadata",
      `is ${Buffer.byteLength(json)} bytes of JSON, over the limit of ${MAX_METADATA_BYTES}: keep large data in the checkpoint folder`,
    );
  }
  return JSON.parse(json) as CheckpointMetadata;
}
