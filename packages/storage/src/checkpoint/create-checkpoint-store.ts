import { join } from "node:path";
import {
  type CheckpointRef,
  type CheckpointStore,
  ValidationError,
  validateId,
  type WithCheckpointOptions,
} from "@trainable/core";
import { createBackend } from "../backends/create-backend.js";
import type { RemoteBackend } from "../backends/types.js";
import { fetchCheckpoint, readManifest, resolveRef } from "./fetch-checkpoint.js";
import { createFingerprintCache } from "./fingerprint-cache.js";
import { type GcOptions, type GcResult, garbageCollect } from "./garbage-collect.js";
import { deleteHandle, handleHistory, listRefs } from "./handle-queries.js";
import { listInstances } from "./list-instances.js";
import { type PruneOptions, type PruneResult, selectPrunable } from "./prune.js";
import { saveCheckpoint } from "./save-checkpoint.js";
import { setHandle } from "./set-handle.js";
import { checkFormat, type StoreContext, scopeOf, writeFormatMarker } from "./store-context.js";
import { type CreateCheckpointStoreOptions, resolveStoreOptions } from "./store-options.js";
import { withTempDir } from "./temp-dirs.js";
import { type VerifyOptions, type VerifyResult, verifyBlobs } from "./verify-blobs.js";

export type { CreateCheckpointStoreOptions } from "./store-options.js";

/** A `CheckpointStore` plus storage-specific management: history, prune, gc and verify. */
export interface CheckpointStoreImpl extends CheckpointStore {
  readonly backend: RemoteBackend;
  /** Readable versions of a handle, newest first (where it pointed, up to `refHistory`). */
  history(options: {
    pluginInstanceId: string;
    handle: string;
    signal?: AbortSignal;
  }): Promise<CheckpointRef[]>;
  /**
   * The plugin instances of this workspace with at least one checkpoint (a handle pointing at
   * one: not only leftover blobs or deleted handles), sorted; names that are not valid ids
   * are left out. Lists folders (`backend.listPrefixes`); a backend without it walks every key
   * of the workspace (holding one name at a time).
   */
  listInstances(options?: { signal?: AbortSignal }): Promise<string[]>;
  prune(options: PruneOptions): Promise<PruneResult>;
  gc(options: GcOptions): Promise<GcResult>;
  /** Re-hashes every blob of a plugin instance; `repair` quarantines the bad ones. */
  verify(options: VerifyOptions): Promise<VerifyResult>;
  close(): Promise<void>;
}

/** Opens the backend (when given a URL) and checks it can hold checkpoints. */
async function openBackend(options: CreateCheckpointStoreOptions): Promise<RemoteBackend> {
  const backend = options.backend ?? (await createBackend(options.url as string));
  if (!backend.capabilities.createOnly) {
    // Ref updates append versions with create-only writes; without them two writers could
    // both write the same version and one update would be lost silently.
    throw ValidationError.forField(
      "storage",
      "backend",
      `${backend.description} does not declare create-only writes, which checkpoint refs need (for S3, keep conditionalWrites.ifNoneMatch on)`,
    );
  }
  return backend;
}

/**
 * Creates a checkpoint store (format version 2) on a backend. See docs/architecture.md for
 * the format and why each guarantee holds; in short:
 *
 * - save: one pass over the folder into a fresh archive key, hashed on the way; the manifest
 *   (its sha256 is the checkpoint's digest) beside it; an index record publishes the pair;
 *   then the ref version(s), compare-and-swap on a log whose keys are never reused;
 * - load: the ref, then manifest and archive streamed into an extractor that checks every
 *   byte of the archive against the manifest and creates nothing else.
 *
 * The store's format marker is checked here: a store in another format version is refused.
 */
export async function createCheckpointStore(
  options: CreateCheckpointStoreOptions,
): Promise<CheckpointStoreImpl> {
  const { fingerprintDir, ...settings } = resolveStoreOptions(options);
  const backend = await openBackend(options);
  let marked = (await checkFormat(backend)) === "marked";
  const ctx: StoreContext = {
    ...settings,
    backend,
    fingerprints: fingerprintDir === undefined ? undefined : createFingerprintCache(fingerprintDir),
    async ensureFormatMarker(signal) {
      if (marked) return;
      await writeFormatMarker(backend, signal);
      marked = true;
    },
  };

  const store: CheckpointStoreImpl = {
    workspace: ctx.workspace,
    backend,

    async save(save) {
      if (save === null || typeof save !== "object") {
        throw ValidationError.forField("storage", "save", "must be an options object");
      }
      if ((save.folder ? 1 : 0) + (save.write ? 1 : 0) !== 1) {
        throw ValidationError.forField(
          "storage",
          "folder",
          'pass exactly one of "folder" or "write"',
        );
      }
      const scope = scopeOf(ctx, save.pluginInstanceId);
      const handle = validateId(save.handle, "handle");
      if (save.folder) {
        return saveCheckpoint(ctx, { scope, handle, folder: save.folder, save, remember: true });
      }
      const write = save.write as (dir: string) => Promise<void>;
      return withTempDir(ctx.tmpRoot, "save", async (dir) => {
        await write(dir);
        return saveCheckpoint(ctx, { scope, handle, folder: dir, save, remember: false });
      });
    },

    resolve: (locator) => resolveRef(ctx, locator),
    fetch: (fetch) => fetchCheckpoint(ctx, fetch),
    readManifest: (locator) => readManifest(ctx, locator),

    async withCheckpoint<T>(opts: WithCheckpointOptions<T>): Promise<T> {
      scopeOf(ctx, opts.pluginInstanceId);
      return withTempDir(ctx.tmpRoot, "load", async (dir) => {
        const target = join(dir, "checkpoint");
        const ref = await fetchCheckpoint(ctx, { ...opts, target });
        return opts.use(target, ref);
      });
    },

    setHandle: (opts) => setHandle(ctx, opts),
    list: (opts) => listRefs(ctx, opts),
    history: (opts) => handleHistory(ctx, opts),
    delete: (opts) => deleteHandle(ctx, opts),
    listInstances: (opts) => listInstances(ctx, opts),

    async prune(opts) {
      const refs = await store.list({
        pluginInstanceId: opts.pluginInstanceId,
        signal: opts.signal,
      });
      const { keep, remove } = selectPrunable(refs, opts);
      if (!opts.dryRun) {
        for (const ref of remove) {
          await store.delete({
            pluginInstanceId: opts.pluginInstanceId,
            handle: ref.handle,
            signal: opts.signal,
          });
        }
      }
      return {
        kept: keep.map((r) => r.handle),
        deleted: remove.map((r) => r.handle),
        dryRun: opts.dryRun ?? false,
      };
    },

    gc: (opts) =>
      garbageCollect({
        ...opts,
        backend,
        scope: scopeOf(ctx, opts.pluginInstanceId),
        pinTtlMs: ctx.pinTtlMs,
      }),
    verify: (opts) => verifyBlobs(ctx, scopeOf(ctx, opts.pluginInstanceId), opts),

    async close() {
      await backend.close?.();
    },
  };
  return store;
}
