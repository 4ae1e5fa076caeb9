import { type Id, IntegrityError, isValidId, ValidationError } from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { listPrefixesOf } from "../backends/list-prefixes.js";
import { refsPrefix, type Scope } from "./keys.js";
import { readNewestVersion } from "./ref-log.js";
import type { StoreContext } from "./store-context.js";

/**
 * Whether any handle of a plugin instance points at a checkpoint now (its newest version is a
 * ref, not a deletion). Handles are looked at one by one, stopping at the first live one, so
 * an instance with checkpoints costs one folder listing, one short listing and one small read.
 * A malformed newest version counts: something is there, and the instance's page says what.
 */
async function hasLiveHandle(ctx: StoreContext, scope: Scope, signal?: AbortSignal) {
  for await (const handle of listPrefixesOf(ctx.backend, refsPrefix(scope), { signal })) {
    if (!isValidId(handle)) continue;
    try {
      const newest = await readNewestVersion(ctx.backend, scope, handle, signal);
      if (newest?.kind === "ref") return true;
    } catch (error) {
      if (IntegrityError.isInstance(error)) return true;
      throw error;
    }
  }
  return false;
}

/**
 * The plugin instances of the store's workspace with at least one checkpoint (a handle whose
 * newest version is a ref: not only leftover blobs, pins or deleted handles), sorted. Names
 * under the workspace that are not valid ids are not instances and are left out. Only the
 * instances' names are held (listed a folder level at a time where the backend has
 * `listPrefixes`, else by walking the workspace's keys), and their
 * handles are checked 8 instances at a time.
 */
export async function listInstances(
  ctx: StoreContext,
  options: { signal?: AbortSignal } = {},
): Promise<string[]> {
  if (options === null || typeof options !== "object") {
    throw ValidationError.forField("storage", "options", "must be an options object");
  }
  const { signal } = options;
  const names: Id[] = [];
  for await (const name of listPrefixesOf(ctx.backend, `${ctx.workspace}/`, { signal })) {
    if (isValidId(name)) names.push(name);
  }
  const live = await mapLimit(names, 8, (pluginInstanceId) =>
    hasLiveHandle(ctx, { workspace: ctx.workspace, pluginInstanceId }, signal),
  );
  return names.filter((_, i) => live[i]).sort();
}
