import {
  type CheckpointRef,
  ConflictError,
  DEFAULT_HANDLE,
  NotFoundError,
  parseWith,
  ValidationError,
  validateId,
} from "@trainable/core";
import { type CheckpointStoreImpl, selectPrunable } from "@trainable/storage";
import type { Context, Hono } from "hono";
import type { CheckpointSummary, PruneAnswer } from "./api-types.js";
import { readJsonBody } from "./read-json-body.js";
import { PruneBody, SetDefaultBody } from "./schemas.js";

export function summarize(
  ref: CheckpointRef,
  defaultDigest: string | undefined,
): CheckpointSummary {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(ref.metadata.trainingResults ?? {})) {
    if (typeof value === "number" && Number.isFinite(value)) metrics[key] = value;
  }
  return {
    handle: ref.handle,
    digest: ref.digest,
    size: ref.size,
    totalBytes: ref.totalBytes,
    files: ref.fileCount,
    createdAt: ref.createdAt,
    parent: ref.parent ?? null,
    metrics,
    isDefault: ref.handle === DEFAULT_HANDLE || ref.digest === defaultDigest,
  };
}

/** The instance's `default` checkpoint, or null when it has none. */
export async function defaultOf(
  store: CheckpointStoreImpl,
  pluginInstanceId: string,
): Promise<CheckpointRef | null> {
  return store.resolve({ pluginInstanceId, handle: DEFAULT_HANDLE }).catch((error: unknown) => {
    if (NotFoundError.isInstance(error)) return null;
    throw error;
  });
}

interface HandleDigest {
  handle: string;
  digest: string;
}

const handles = (refs: HandleDigest[]) => refs.map((r) => r.handle);
const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/** How what the rules select now differs from what the preview showed (empty: the same). */
function differences(now: HandleDigest[], preview: HandleDigest[]): string[] {
  const before = new Map(preview.map((r) => [r.handle, r.digest]));
  const after = new Map(now.map((r) => [r.handle, r.digest]));
  const out: string[] = [];
  const added = handles(now).filter((h) => !before.has(h));
  const dropped = handles(preview).filter((h) => !after.has(h));
  if (added.length) out.push(`the rules now also delete ${added.join(", ")}`);
  if (dropped.length) out.push(`the rules no longer delete ${dropped.join(", ")}`);
  for (const { handle, digest } of now) {
    const was = before.get(handle);
    if (was !== undefined && was !== digest) {
      out.push(`${handle} now points at digest ${short(digest)}, not ${short(was)}`);
    }
  }
  return out;
}

const instanceParam = (c: Context) => validateId(c.req.param("id"), "instance id (path)");

/**
 * The checkpoints of an instance: `GET …/checkpoints`, `POST …/default` (set-as-default),
 * `DELETE …/checkpoints/:handle`, `POST …/prune` (with a dry run).
 */
export function mountCheckpointApi(api: Hono, store: CheckpointStoreImpl): void {
  api.get("/instances/:id/checkpoints", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const refs = await store.list({ pluginInstanceId });
    const digest = refs.find((r) => r.handle === DEFAULT_HANDLE)?.digest;
    const checkpoints = refs
      .map((ref) => summarize(ref, digest))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.handle.localeCompare(b.handle));
    return c.json({ instance: pluginInstanceId, defaultDigest: digest ?? null, checkpoints });
  });

  api.post("/instances/:id/default", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const { handle } = parseWith(
      SetDefaultBody,
      await readJsonBody(c),
      "set-default request",
      "cli",
    );
    if (handle.toLowerCase() === DEFAULT_HANDLE) {
      throw ValidationError.forField("cli", "handle", `is "${DEFAULT_HANDLE}" already`);
    }
    const ref = await store.resolve({ pluginInstanceId, handle });
    const moved = await store.setHandle({ pluginInstanceId, handle: DEFAULT_HANDLE, ref });
    return c.json({ default: summarize(moved, moved.digest) });
  });

  api.delete("/instances/:id/checkpoints/:handle", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const handle = validateId(c.req.param("handle"), "handle (path)");
    // Any case: on a case-insensitive filesystem `DEFAULT` is the `default` ref's folder.
    if (handle.toLowerCase() === DEFAULT_HANDLE) {
      throw ValidationError.forField(
        "cli",
        "handle (path)",
        `"${handle}" is "${DEFAULT_HANDLE}" (in any case), what the instance serves: set another checkpoint as default instead (\`trainable checkpoints delete\` can remove it)`,
      );
    }
    await store.delete({ pluginInstanceId, handle });
    return c.json({ deleted: handle });
  });

  api.post("/instances/:id/prune", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const body: PruneBody = parseWith(PruneBody, await readJsonBody(c), "prune request", "cli");
    // The dry run, fresh: the store's own rule (`selectPrunable`) on the refs as they are now.
    const { keep, remove } = selectPrunable(await store.list({ pluginInstanceId }), {
      pluginInstanceId,
      keepLast: body.keepLast,
      keepBest: body.keepBest,
      metric: body.metric,
      mode: body.mode,
      protect: body.protect,
    });
    const selected = remove.map((r) => ({ handle: r.handle, digest: r.digest }));
    const kept = keep.map((r) => r.handle);
    if (body.dryRun) {
      return c.json({
        kept,
        deleted: handles(selected),
        deletedRefs: selected,
        dryRun: true,
      } satisfies PruneAnswer);
    }
    const expected = body.expectDeleted ?? [];
    const changed = differences(selected, expected);
    if (changed.length > 0) {
      throw new ConflictError(
        `[cli] The checkpoints of "${pluginInstanceId}" changed since the preview: ${changed.join("; ")}; nothing was deleted — preview again`,
      );
    }
    // Exactly the checked handles are deleted (never what a later list would select).
    const deleted: string[] = [];
    const gone: string[] = [];
    for (const { handle } of selected) {
      const ok = await store.delete({ pluginInstanceId, handle }).then(
        () => true,
        (error: unknown) => {
          if (NotFoundError.isInstance(error)) return false;
          throw error;
        },
      );
      (ok ? deleted : gone).push(handle);
    }
    if (gone.length > 0) {
      throw new ConflictError(
        `[cli] The prune of "${pluginInstanceId}" deleted ${deleted.join(", ") || "nothing"}, not all the preview showed: ${gone.join(", ")} ${gone.length === 1 ? "was" : "were"} deleted meanwhile by someone else (unused blobs were not collected)`,
      );
    }
    const gc = await store.gc({ pluginInstanceId, minAgeMs: body.gcMinAgeMs });
    return c.json({
      kept,
      deleted,
      dryRun: false,
      gc: { blobsDeleted: gc.deleted.length, bytesFreed: gc.bytesFreed },
    } satisfies PruneAnswer);
  });
}
