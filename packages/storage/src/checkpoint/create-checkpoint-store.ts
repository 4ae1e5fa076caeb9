import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CheckpointRef,
  CheckpointRef as CheckpointRefSchema,
  type CheckpointStore,
  checkOptionsObject,
  defaultCacheDir,
  describeValue,
  isPromiseLike,
  NotFoundError,
  type SetHandleOptions,
  ValidationError,
  validateId,
  type WithCheckpointOptions,
} from "@trainable/core";
import { mapLimit } from "@trainable/internal-node";
import { type Compression, DEFAULT_COMPRESSION } from "../archive/default-compression.js";
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "../archive/default-extract-limits.js";
import { createBackend } from "../backends/create-backend.js";
import type { RemoteBackend } from "../backends/types.js";
import { DEFAULT_PIN_TTL_MS, isCollected, pinBlob } from "./blob-registry.js";
import { blobOf, fetchCheckpoint, readManifest, resolveRef } from "./fetch-checkpoint.js";
import { createFingerprintCache } from "./fingerprint-cache.js";
import { type GcOptions, type GcResult, garbageCollect } from "./garbage-collect.js";
import { parseRefVersionKey, refsPrefix } from "./keys.js";
import { type PruneOptions, type PruneResult, selectPrunable } from "./prune.js";
import {
  appendVersion,
  appendVersionAt,
  listVersions,
  readNewestVersion,
  readRefVersion,
} from "./ref-log.js";
import { mayBeRepaired, undoVersion } from "./repair-refs.js";
import { saveCheckpoint } from "./save-checkpoint.js";
import {
  checkFormat,
  describeHandle,
  type StoreContext,
  scopeOf,
  writeFormatMarker,
} from "./store-context.js";
import { type VerifyOptions, type VerifyResult, verifyBlobs } from "./verify-blobs.js";

export interface CreateCheckpointStoreOptions {
  /** A backend instance… */
  backend?: RemoteBackend;
  /** …or a URL: `file:///abs/dir`, `s3://bucket/prefix?endpoint=…`, `memory://`. */
  url?: string;
  /** The workspace every checkpoint of this store belongs to. */
  workspace: string;
  /** Archive compression for new saves. Default `none` (see docs/architecture.md). */
  compression?: Compression;
  /** gzip level 1-9 when `compression` is `gzip`. Default 1. */
  gzipLevel?: number;
  /** Where temporary folders go. Default: the OS temp dir. */
  tmpDir?: string;
  /**
   * Limits on a checkpoint (entries, bytes of file data, path length), enforced the same way
   * on save and on load: what saves can be loaded. Defaults: 1,000,000 entries, 64 GiB,
   * 4096-byte paths.
   */
  limits?: Partial<ExtractLimits>;
  /** Ref versions kept readable per handle (`history()`, rollback). Default 10. */
  refHistory?: number;
  /**
   * Where the hashes of saved folders are remembered, so an unchanged re-save reads no file
   * (`false`: never). Default `<cache dir>/fingerprints` (`TRAINABLE_CACHE_DIR`, else
   * `$XDG_CACHE_HOME/trainable`, else `~/.cache/trainable`).
   */
  fingerprintCache?: string | false;
  /**
   * Flush extracted files to disk before a loaded folder appears (default `true`); a crash
   * then never leaves a complete-looking folder with missing data.
   */
  durable?: boolean;
  /** How long a pin (a save about to reference a blob) protects it without a refresh. Default one hour. */
  pinTtlMs?: number;
  /** Recorded in ref metadata. */
  packageVersion?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

/** A `CheckpointStore` plus storage-specific management: history, prune, gc and verify. */
export interface CheckpointStoreImpl extends CheckpointStore {
  readonly backend: RemoteBackend;
  /** Readable versions of a handle, newest first (where it pointed, up to `refHistory`). */
  history(options: {
    pluginInstanceId: string;
    handle: string;
    signal?: AbortSignal;
  }): Promise<CheckpointRef[]>;
  prune(options: PruneOptions): Promise<PruneResult>;
  gc(options: GcOptions): Promise<GcResult>;
  /** Re-hashes every blob of a plugin instance; `repair` quarantines the bad ones. */
  verify(options: VerifyOptions): Promise<VerifyResult>;
  close(): Promise<void>;
}

/** Replaced by the build (tsup `define`) with the version in package.json. */
declare const __TRAINABLE_STORAGE_VERSION__: string | undefined;

/** This package's version (recorded in saved checkpoints' metadata), from its package.json. */
const STORE_VERSION: string =
  typeof __TRAINABLE_STORAGE_VERSION__ === "string" ? __TRAINABLE_STORAGE_VERSION__ : "0.0.0-dev";

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
  if (typeof options === "string") {
    throw ValidationError.forField(
      "storage",
      "options",
      `createCheckpointStore takes an options object, not a URL: createCheckpointStore({ url: ${JSON.stringify((options as string).slice(0, 80))}, workspace })`,
    );
  }
  checkOptionsObject(options, {
    component: "storage",
    call: "createCheckpointStore",
    expected: "({ url, workspace })",
  });
  if (isPromiseLike(options.backend)) {
    throw ValidationError.forField(
      "storage",
      "backend",
      "backend is a Promise: did you forget await? (backend = await createFileBackend(…))",
    );
  }
  if (options.url !== undefined && typeof options.url !== "string") {
    throw ValidationError.forField(
      "storage",
      "url",
      `expected a URL string (file:///abs/dir, s3://bucket/prefix, memory://), got ${describeValue(options.url)}`,
    );
  }
  const workspace = validateId(options.workspace, "workspace");
  if ((options.backend ? 1 : 0) + (options.url ? 1 : 0) !== 1) {
    throw ValidationError.forField("storage", "backend", 'pass exactly one of "backend" or "url"');
  }
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  if (compression !== "none" && compression !== "gzip") {
    throw ValidationError.forField(
      "storage",
      "compression",
      `must be "none" or "gzip", got ${JSON.stringify(compression)}`,
    );
  }
  const gzipLevel = options.gzipLevel ?? 1;
  if (!Number.isInteger(gzipLevel) || gzipLevel < 1 || gzipLevel > 9) {
    throw ValidationError.forField("storage", "gzipLevel", "must be an integer from 1 to 9");
  }
  const refHistory = positiveInteger(options.refHistory ?? 10, "refHistory");
  const pinTtlMs = positiveInteger(options.pinTtlMs ?? DEFAULT_PIN_TTL_MS, "pinTtlMs");
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...options.limits };
  for (const field of ["maxTotalBytes", "maxEntries", "maxPathLength"] as const) {
    positiveInteger(limits[field], `limits.${field}`);
  }
  if (options.fingerprintCache !== undefined && options.fingerprintCache !== false) {
    if (typeof options.fingerprintCache !== "string" || options.fingerprintCache === "") {
      throw ValidationError.forField(
        "storage",
        "fingerprintCache",
        "must be a folder path or false",
      );
    }
  }
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
  let marked = (await checkFormat(backend)) === "marked";
  const fingerprintDir =
    options.fingerprintCache === false
      ? undefined
      : (options.fingerprintCache ?? join(defaultCacheDir(), "fingerprints"));
  const ctx: StoreContext = {
    backend,
    workspace,
    compression,
    gzipLevel,
    limits,
    refHistory,
    pinTtlMs,
    tmpRoot: options.tmpDir ?? tmpdir(),
    durable: options.durable ?? true,
    packageVersion: options.packageVersion ?? STORE_VERSION,
    fingerprints: fingerprintDir === undefined ? undefined : createFingerprintCache(fingerprintDir),
    now: options.now ?? (() => new Date()),
    async ensureFormatMarker(signal) {
      if (marked) return;
      await writeFormatMarker(backend, signal);
      marked = true;
    },
  };

  async function withTempDir<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
    await mkdir(ctx.tmpRoot, { recursive: true });
    const dir = await mkdtemp(join(ctx.tmpRoot, prefix));
    try {
      return await use(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const store: CheckpointStoreImpl = {
    workspace,
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
      scopeOf(ctx, save.pluginInstanceId);
      validateId(save.handle, "handle");
      if (save.folder) return saveCheckpoint(ctx, save.folder, save, { remember: true });
      const write = save.write as (dir: string) => Promise<void>;
      return withTempDir("trainable-save-", async (dir) => {
        await write(dir);
        return saveCheckpoint(ctx, dir, save, { remember: false });
      });
    },

    resolve: (locator) => resolveRef(ctx, locator),

    fetch: (fetch) => fetchCheckpoint(ctx, fetch),

    readManifest: (locator) => readManifest(ctx, locator),

    async withCheckpoint<T>(opts: WithCheckpointOptions<T>): Promise<T> {
      scopeOf(ctx, opts.pluginInstanceId);
      return withTempDir("trainable-load-", async (dir) => {
        const target = join(dir, "checkpoint");
        const ref = await fetchCheckpoint(ctx, { ...opts, target });
        return opts.use(target, ref);
      });
    },

    async setHandle(opts: SetHandleOptions) {
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
    },

    async list({ pluginInstanceId, signal }) {
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
    },

    async history({ pluginInstanceId, handle, signal }) {
      const scope = scopeOf(ctx, pluginInstanceId);
      validateId(handle, "handle");
      const versions = (await listVersions(backend, scope, handle, signal)).filter(
        (v) => v.size > 0,
      );
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
    },

    async delete({ pluginInstanceId, handle, signal }) {
      const scope = scopeOf(ctx, pluginInstanceId);
      validateId(handle, "handle");
      try {
        await appendVersion(backend, scope, handle, "deleted", {
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
    },

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

    async gc(opts) {
      return garbageCollect({
        ...opts,
        backend,
        scope: scopeOf(ctx, opts.pluginInstanceId),
        pinTtlMs,
      });
    },

    async verify(opts) {
      return verifyBlobs(ctx, scopeOf(ctx, opts.pluginInstanceId), opts);
    },

    async close() {
      await backend.close?.();
    },
  };
  return store;
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw ValidationError.forField("storage", field, "must be an integer >= 1");
  }
  return value;
}
