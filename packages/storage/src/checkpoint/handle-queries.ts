import { type CheckpointRef, NotFoundError, validateId } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { isCollected } from "./blob-registry.js";
import { blobOf } from "./fetch-checkpoint.js";
import { parseRefVersionKey, refsPrefix } from "./keys.js";
import { appendVersion, listVersions, readNewestVersion, readRefVersion } from "./ref-log.js";
import { mayBeRepaired } from "./repair-refs.js";
import { describeHandle, type StoreContext, scopeOf } from "./store-context.js";

/** Which handle: of which plugin instance. */
interface HandleOptions {
  pluginInstanceId: string;
  handle: string;
  signal?: AbortSignal;
}

/** The newest ref of every handle of a plugin instance, sorted by handle (`store.list`). */
export async function listRefs(
  ctx: StoreContext,
  { pluginInstanceId, signal }: { pluginInstanceId: string; signal?: AbortSignal },
): Promise<CheckpointRef[]> {
  const { backend } = ctx;
  const scope = scopeOf(ctx, pluginInstanceId);
  const newest = new Map<string, number>();
  for await (const info of backend.list(refsPrefix(scope), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (parsed && !newest.has(parsed.handle)) newest.set(parsed.handle, parsed.seq);
  }
  const handles = [...newest].sort(([a], [b]) => (a < b ? -1 : 1));
  const versions = await mapLimit(handles, 8, async ([handle, seq]) => {
    const version = await readRefVersion(backend, scope, handle, seq, signal);
    // Emptied since it was listed (trimmed or withdrawn once a newer version existed).
    if (version.kind !== "trimmed") return version;
    return (await readNewestVersion(backend, scope, handle, signal)) ?? version;
  });
  return versions.flatMap((v) => (v.kind === "ref" ? [v.ref] : []));
}

/** The readable versions of a handle, newest first (`store.history`). */
export async function handleHistory(
  ctx: StoreContext,
  { pluginInstanceId, handle, signal }: HandleOptions,
): Promise<CheckpointRef[]> {
  const { backend } = ctx;
  const scope = scopeOf(ctx, pluginInstanceId);
  validateId(handle, "handle");
  const versions = (await listVersions(backend, scope, handle, signal)).filter((v) => v.size > 0);
  const refs: CheckpointRef[] = [];
  let above: CheckpointRef | undefined;
  for (const { seq } of versions) {
    const version = await readRefVersion(backend, scope, handle, seq, signal);
    if (version.kind === "deleted") break; // what came before was deleted
    if (version.kind !== "ref") continue; // emptied since it was listed
    const { ref } = version;
    const repaired =
      mayBeRepaired(ref, above) &&
      (await isCollected(backend, scope, { ...blobOf(scope, ref), size: ref.size }, signal));
    above = ref;
    // A version naming a collected blob, followed by its repair (the same checkpoint, a
    // fresh copy): the save that wrote both stopped before withdrawing it. Not a version
    // anyone can load or roll back to; its repair stands for it.
    if (!repaired) refs.push(ref);
  }
  return refs;
}

/**
 * Appends a deletion version to a handle (`store.delete`); a missing handle is a
 * `NotFoundError`, one not pointing at `expectedDigest` (when given) a `ConflictError`.
 */
export async function deleteHandle(
  ctx: StoreContext,
  { pluginInstanceId, handle, expectedDigest, signal }: HandleOptions & { expectedDigest?: string },
): Promise<void> {
  const { backend, refHistory } = ctx;
  const scope = scopeOf(ctx, pluginInstanceId);
  validateId(handle, "handle");
  try {
    await appendVersion(backend, scope, handle, "deleted", {
      expectedDigest,
      history: refHistory,
      signal,
      now: ctx.now,
    });
  } catch (error) {
    if (NotFoundError.isInstance(error)) {
      throw new NotFoundError(
        `[storage] No checkpoint at ${describeHandle(scope, handle)} to delete`,
      );
    }
    throw error;
  }
}
