import {
  type CheckpointRef,
  CheckpointRef as CheckpointRefSchema,
  NotFoundError,
  type SetHandleOptions,
  ValidationError,
  validateId,
} from "@trainable/core";
import { isCollected, pinBlob } from "./blob-registry.js";
import { blobOf } from "./fetch-checkpoint.js";
import { appendVersionAt } from "./ref-log.js";
import { undoVersion } from "./repair-refs.js";
import { type StoreContext, scopeOf } from "./store-context.js";

/**
 * Points a handle at an existing checkpoint of the same scope (`store.setHandle`): a pin
 * keeps the blob from being collected while the version is written, and a collection that
 * still got it makes the write undone.
 */
export async function setHandle(ctx: StoreContext, opts: SetHandleOptions): Promise<CheckpointRef> {
  const { backend, pinTtlMs, refHistory } = ctx;
  const scope = scopeOf(ctx, opts.pluginInstanceId);
  const handle = validateId(opts.handle, "handle");
  // The ref comes from the caller: it must be a well-formed ref of this scope.
  const parsedRef = CheckpointRefSchema.safeParse(opts.ref);
  if (!parsedRef.success) throw ValidationError.fromZod("storage", "ref", parsedRef.error);
  let blob: ReturnType<typeof blobOf>;
  try {
    blob = blobOf(scope, parsedRef.data);
  } catch {
    throw ValidationError.forField(
      "storage",
      "ref",
      `names an archive outside ${scope.workspace}/${scope.pluginInstanceId}`,
    );
  }
  await ctx.ensureFormatMarker(opts.signal);
  const { signal } = opts;
  const missing = () =>
    new NotFoundError(
      `[storage] The blob of that ref is missing or being collected (${opts.ref.archivePath})`,
    );
  const pin = await pinBlob(backend, scope, blob.id, { ttlMs: pinTtlMs, signal });
  try {
    const target = { ...blob, size: parsedRef.data.size };
    if (await isCollected(backend, scope, target, signal)) throw missing();
    const { written, previous, seq } = await appendVersionAt(
      backend,
      scope,
      handle,
      parsedRef.data,
      {
        expectedDigest: opts.expectedDigest,
        history: refHistory,
        signal,
        now: ctx.now,
      },
    );
    const [collected] = await Promise.all([
      isCollected(backend, scope, target, signal),
      pin.release(signal),
    ]);
    if (collected) {
      // Collected between our checks (our pin taken for stale while the write was on its
      // way): put back what was there and withdraw ours, so no ref names the deleted blob.
      await undoVersion(
        ctx,
        scope,
        { handle, seq, ref: written as CheckpointRef, previous },
        signal,
      );
      throw missing();
    }
    return written as CheckpointRef;
  } finally {
    await pin.release(signal);
  }
}
