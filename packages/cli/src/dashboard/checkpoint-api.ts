import {
  type CheckpointRef,
  ConflictError,
  DEFAULT_HANDLE,
  NotFoundError,
  parseWith,
  ValidationError,
  validateId,
} from "@trainable/core";
import type { CheckpointStoreImpl } from "@trainable/storage";
import type { Context, Hono } from "hono";
import { readJsonBody } from "./read-json-body.js";
import { PruneBody, SetDefaultBody } from "./schemas.js";

/** A checkpoint as the page shows it. */
export interface CheckpointSummary {
  handle: string;
  digest: string;
  /** Archive bytes. */
  size: number;
  /** Bytes of file data in the folder. */
  totalBytes: number;
  files: number;
  createdAt: string;
  parent: string | null;
  /** The numeric `trainingResults` (f1, accuracy…). */
  metrics: Record<string, number>;
  /** `default` points at this checkpoint (or this is `default`). */
  isDefault: boolean;
}

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

const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");

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
    if (handle === DEFAULT_HANDLE) {
      throw ValidationError.forField("cli", "handle", `is "${DEFAULT_HANDLE}" already`);
    }
    const ref = await store.resolve({ pluginInstanceId, handle });
    const moved = await store.setHandle({ pluginInstanceId, handle: DEFAULT_HANDLE, ref });
    return c.json({ default: summarize(moved, moved.digest) });
  });

  api.delete("/instances/:id/checkpoints/:handle", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const handle = validateId(c.req.param("handle"), "handle (path)");
    if (handle === DEFAULT_HANDLE) {
      throw ValidationError.forField(
        "cli",
        "handle (path)",
        `"${DEFAULT_HANDLE}" is what the instance serves: set another checkpoint as default instead (\`trainable checkpoints delete\` can remove it)`,
      );
    }
    await store.delete({ pluginInstanceId, handle });
    return c.json({ deleted: handle });
  });

  api.post("/instances/:id/prune", async (c) => {
    const pluginInstanceId = instanceParam(c);
    const body: PruneBody = parseWith(PruneBody, await readJsonBody(c), "prune request", "cli");
    const rules = {
      pluginInstanceId,
      keepLast: body.keepLast,
      keepBest: body.keepBest,
      metric: body.metric,
      mode: body.mode,
      protect: body.protect,
    };
    if (!body.dryRun && body.expectDeleted) {
      const now = await store.prune({ ...rules, dryRun: true });
      if (!sameSet(now.deleted, body.expectDeleted)) {
        throw new ConflictError(
          `[cli] The checkpoints of "${pluginInstanceId}" changed since the preview: the rules now delete ${now.deleted.join(", ") || "nothing"} (the preview said ${body.expectDeleted.join(", ") || "nothing"}); nothing was deleted — preview again`,
        );
      }
    }
    const result = await store.prune({ ...rules, dryRun: body.dryRun });
    const gc = body.dryRun
      ? undefined
      : await store.gc({ pluginInstanceId, minAgeMs: body.gcMinAgeMs });
    return c.json({
      ...result,
      ...(gc ? { gc: { blobsDeleted: gc.deleted.length, bytesFreed: gc.bytesFreed } } : {}),
    });
  });
}
