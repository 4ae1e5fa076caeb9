import { lstat, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream";
import {
  CancelledError,
  type CheckpointLocator,
  type CheckpointMetadata,
  type CheckpointRef,
  CheckpointRef as CheckpointRefSchema,
  type CheckpointStore,
  DEFAULT_HANDLE,
  type FetchCheckpointOptions,
  IntegrityError,
  NotFoundError,
  type SaveCheckpointOptions,
  type SaveCheckpointResult,
  type SetHandleOptions,
  ValidationError,
  validateId,
  type WithCheckpointOptions,
} from "@trainable/core";
import { entryPathProblem } from "../archive/entry-path-problem.js";
import {
  type Compression,
  DEFAULT_COMPRESSION,
  type ExtractLimits,
  extractArchive,
  manifestDigest,
  packFolder,
  scanFolder,
} from "../archive/index.js";
import { createBackend } from "../backends/create-backend.js";
import { PreconditionFailedError } from "../backends/precondition-failed-error.js";
import type { RemoteBackend } from "../backends/types.js";
import { mapLimit } from "../util/map-limit.js";
import { readSmallObject } from "../util/read-small-object.js";
import { waitForCollections } from "./collection-marker.js";
import { type GcOptions, type GcResult, garbageCollect } from "./garbage-collect.js";
import {
  blobKey,
  blobPrefix,
  parseRefVersionKey,
  refsPrefix,
  refVersionKey,
  type Scope,
} from "./keys.js";
import { type PruneOptions, type PruneResult, selectPrunable } from "./prune.js";
import { appendRef, listRefSeqs, readLatestRef, readRefAt } from "./ref-log.js";
import { VerifyingStream } from "./verifying-stream.js";

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
  /** Extraction limits (total bytes, entries, path length). */
  limits?: Partial<ExtractLimits>;
  /** Ref versions kept per handle. Default 10. */
  refHistory?: number;
  /** Recorded in ref metadata. */
  packageVersion?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

/** A `CheckpointStore` plus storage-specific management: prune and garbage collection. */
export interface CheckpointStoreImpl extends CheckpointStore {
  readonly backend: RemoteBackend;
  /** Previous versions of a handle, newest first (the log of where it pointed). */
  history(options: {
    pluginInstanceId: string;
    handle: string;
    signal?: AbortSignal;
  }): Promise<CheckpointRef[]>;
  prune(options: PruneOptions): Promise<PruneResult>;
  gc(options: GcOptions): Promise<GcResult>;
  close(): Promise<void>;
}

interface BlobInfo {
  size: number;
  archiveSha256: string;
  compression: Compression;
}

const MAX_SIDECAR_BYTES = 64 * 1024;
const STORE_VERSION = "0.0.0";

/**
 * Creates a content-addressed checkpoint store on a backend.
 *
 * Save: scan the folder (per-file sha256) → digest of the manifest → upload the deterministic
 * archive create-only to `blobs/sha256/{digest}` unless it is already there → append the ref
 * (and the `default` ref). Load: read the ref → stream the blob through size/sha256 checks into
 * a safe extractor that verifies every file → rename into place.
 */
export async function createCheckpointStore(
  options: CreateCheckpointStoreOptions,
): Promise<CheckpointStoreImpl> {
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
  const refHistory = options.refHistory ?? 10;
  if (!Number.isInteger(refHistory) || refHistory < 1) {
    throw ValidationError.forField("storage", "refHistory", "must be an integer >= 1");
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
  const tmpRoot = options.tmpDir ?? tmpdir();
  const now = options.now ?? (() => new Date());

  const scopeOf = (pluginInstanceId: string): Scope => ({
    workspace,
    pluginInstanceId: validateId(pluginInstanceId, "pluginInstanceId"),
  });
  const describe = (scope: Scope, handle: string) =>
    `handle "${handle}" of ${scope.workspace}/${scope.pluginInstanceId}`;

  async function readBlobInfo(key: string, signal?: AbortSignal): Promise<BlobInfo | undefined> {
    try {
      const bytes = await readSmallObject(backend, `${key}.json`, {
        maxBytes: MAX_SIDECAR_BYTES,
        signal,
      });
      const info = JSON.parse(bytes.toString("utf8")) as BlobInfo;
      if (typeof info.size !== "number" || !/^[a-f0-9]{64}$/.test(info.archiveSha256))
        return undefined;
      return info;
    } catch (error) {
      if (NotFoundError.isInstance(error) || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  async function writeBlobInfo(key: string, info: BlobInfo, signal?: AbortSignal) {
    const body = Buffer.from(JSON.stringify(info));
    try {
      await backend.put(`${key}.json`, body, {
        ifNoneMatch: "*",
        contentLength: body.length,
        signal,
      });
    } catch (error) {
      if (!PreconditionFailedError.isInstance(error)) throw error;
    }
  }

  /** Packs `folder` and streams it to `key` (create-only), hashing on the way. */
  async function uploadBlob(
    folder: string,
    scan: Awaited<ReturnType<typeof scanFolder>>,
    key: string,
    save: SaveCheckpointOptions,
  ): Promise<{ info: BlobInfo; uploaded: number }> {
    const packed = packFolder({
      folder,
      scan,
      compression,
      gzipLevel,
      verifyContent: "auto",
      signal: save.signal,
    });
    const verify = new VerifyingStream({
      onBytes: (bytes) => save.onProgress?.({ phase: "upload", bytes, total: scan.totalBytes }),
      sizeHint: scan.totalBytes,
    });
    pipeline(packed, verify, () => {});
    try {
      await backend.put(key, verify, { ifNoneMatch: "*", signal: save.signal });
    } catch (error) {
      if (PreconditionFailedError.isInstance(error)) {
        // An identical checkpoint landed concurrently: content-addressed, so it is ours too.
        verify.destroy();
        packed.destroy();
        const info = await readBlobInfo(key, save.signal);
        if (info) return { info, uploaded: 0 };
        return { info: await hashStored(key, save.signal), uploaded: 0 };
      }
      throw error;
    }
    if (verify.sha256 === undefined)
      throw new IntegrityError("[storage] upload ended before the archive did");
    const info = { size: verify.bytes, archiveSha256: verify.sha256, compression };
    await writeBlobInfo(key, info, save.signal);
    return { info, uploaded: verify.bytes };
  }

  /**
   * Measures a stored blob whose sidecar is missing (a save killed between the two), by
   * streaming the blob itself: re-packing the local folder could give other bytes (another
   * gzip level or zlib), and the ref must describe what is stored.
   */
  async function hashStored(key: string, signal?: AbortSignal): Promise<BlobInfo> {
    const { body, info } = await backend.get(key, { signal });
    const verify = new VerifyingStream({ sizeHint: info.size });
    await new Promise<void>((resolve, reject) => {
      pipeline(body, verify, (err) => (err ? reject(err) : resolve()));
      verify.resume();
    });
    return { size: verify.bytes, archiveSha256: verify.sha256 as string, compression };
  }

  async function saveFolder(
    folder: string,
    save: SaveCheckpointOptions,
  ): Promise<SaveCheckpointResult> {
    const scope = scopeOf(save.pluginInstanceId);
    const handle = validateId(save.handle, "handle");
    CancelledError.throwIfAborted(save.signal, "[storage] save");
    save.onProgress?.({ phase: "pack", bytes: 0 });
    const scan = await scanFolder({ folder, signal: save.signal });
    const digest = manifestDigest(scan.files, scan.directories);
    const key = blobKey(scope, digest, compression);

    let info: BlobInfo | undefined;
    let uploaded = 0;
    const existing = await backend.head(key, { signal: save.signal });
    if (existing) info = await readBlobInfo(key, save.signal);
    if (existing && !info) {
      info = await hashStored(key, save.signal);
      await writeBlobInfo(key, info, save.signal);
    }
    if (!info) ({ info, uploaded } = await uploadBlob(folder, scan, key, save));

    const metadata: CheckpointMetadata = {
      packageVersion: options.packageVersion ?? STORE_VERSION,
      ...save.metadata,
    };
    const base: CheckpointRef = {
      schemaVersion: 1,
      handle,
      digest,
      size: info.size,
      archiveSha256: info.archiveSha256,
      compression: info.compression,
      archivePath: key,
      files: scan.files,
      ...(scan.directories.length ? { directories: scan.directories } : {}),
      createdAt: now().toISOString(),
      metadata,
    };
    const ref = await appendRef(backend, scope, base, {
      expectedDigest: save.expectedDigest,
      history: refHistory,
      signal: save.signal,
    });
    let defaultRef: CheckpointRef | undefined;
    if ((save.setAsDefault ?? true) && handle !== DEFAULT_HANDLE) {
      defaultRef = await appendRef(
        backend,
        scope,
        { ...base, handle: DEFAULT_HANDLE },
        {
          history: refHistory,
          signal: save.signal,
        },
      );
    }
    // A garbage collection that listed the refs before ours were written may delete the blob
    // (a deduplicated save reuses an old one; with `minAgeMs: 0` even a fresh one is fair
    // game). Wait until no collection is running, then check the blob and put it back if it
    // is gone: the ref never points at nothing once the save returns (collection-marker.ts).
    await waitForCollections(backend, scope, { signal: save.signal });
    if (!(await backend.head(key, { signal: save.signal }))) {
      ({ uploaded } = await uploadBlob(folder, scan, key, save));
    }
    return { ref, defaultRef, uploadedBytes: uploaded };
  }

  async function resolve(locator: CheckpointLocator): Promise<CheckpointRef> {
    const scope = scopeOf(locator.pluginInstanceId);
    if (locator.ref) return locator.ref;
    const handle = validateId(locator.handle ?? DEFAULT_HANDLE, "handle");
    const latest = await readLatestRef(backend, scope, handle, locator.signal);
    if (!latest) {
      throw new NotFoundError(`[storage] No checkpoint at ${describe(scope, handle)}`);
    }
    return latest.ref;
  }

  async function fetchInto(fetch: FetchCheckpointOptions): Promise<CheckpointRef> {
    const scope = scopeOf(fetch.pluginInstanceId);
    const ref = await resolve(fetch);
    if (!ref.archivePath.startsWith(blobPrefix(scope))) {
      throw new IntegrityError(
        `[storage] Ref ${describe(scope, ref.handle)} points outside its scope: refusing it`,
      );
    }
    // The ref comes from the store: a manifest or directory list that could not have been
    // written by a save is corrupt (or hostile) stored data, an IntegrityError — not bad input.
    let digest: string;
    try {
      digest = manifestDigest(ref.files, ref.directories);
    } catch (error) {
      if (!ValidationError.isInstance(error)) throw error;
      throw new IntegrityError(
        `[storage] Ref ${describe(scope, ref.handle)} has an invalid manifest: ${error.message}`,
        { cause: error },
      );
    }
    for (const directory of ref.directories ?? []) {
      const problem = entryPathProblem(directory);
      if (problem !== undefined) {
        throw new IntegrityError(
          `[storage] Ref ${describe(scope, ref.handle)} lists an invalid directory ${JSON.stringify(directory)}: ${problem}`,
        );
      }
    }
    if (digest !== ref.digest) {
      throw new IntegrityError(
        `[storage] Ref ${describe(scope, ref.handle)} lists files that do not match its digest ${ref.digest}`,
      );
    }
    await mkdir(dirname(fetch.target), { recursive: true });
    // Checked before the download starts, so a refusal opens no stream to leak.
    if (
      await lstat(fetch.target).then(
        () => true,
        () => false,
      )
    ) {
      throw ValidationError.forField("storage", "target", `${fetch.target} already exists`);
    }
    let body: Awaited<ReturnType<RemoteBackend["get"]>>["body"];
    try {
      ({ body } = await backend.get(ref.archivePath, { signal: fetch.signal }));
    } catch (error) {
      if (NotFoundError.isInstance(error)) {
        throw new IntegrityError(
          `[storage] The blob of ${describe(scope, ref.handle)} is missing (${ref.archivePath})`,
          { cause: error },
        );
      }
      throw error;
    }
    const verify = new VerifyingStream({
      expected: { size: ref.size, sha256: ref.archiveSha256, what: `blob ${ref.archivePath}` },
      onBytes: (bytes) => fetch.onProgress?.({ phase: "download", bytes, total: ref.size }),
    });
    pipeline(body, verify, () => {});
    try {
      await extractArchive({
        source: verify,
        target: fetch.target,
        compression: ref.compression,
        expectedFiles: ref.files,
        expectedDirectories: ref.directories,
        limits: options.limits,
        signal: fetch.signal,
      });
    } catch (error) {
      verify.destroy();
      body.destroy();
      // Whichever check trips first (the archive's sha256, or the tar parser and per-file
      // checks on the way), say which checkpoint and which blob are damaged.
      if (IntegrityError.isInstance(error) && !error.message.includes(ref.archivePath)) {
        throw new IntegrityError(
          `[storage] The blob of ${describe(scope, ref.handle)} (${ref.archivePath}) is damaged: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
    return ref;
  }

  async function listHandles(scope: Scope, signal?: AbortSignal): Promise<Map<string, number>> {
    const prefix = refsPrefix(scope);
    const latest = new Map<string, number>();
    for await (const info of backend.list(prefix, { signal })) {
      const parsed = parseRefVersionKey(info.key, prefix);
      if (!parsed) continue;
      latest.set(parsed.handle, Math.max(parsed.seq, latest.get(parsed.handle) ?? -1));
    }
    return latest;
  }

  const store: CheckpointStoreImpl = {
    workspace,
    backend,

    async save(save) {
      if ((save.folder ? 1 : 0) + (save.write ? 1 : 0) !== 1) {
        throw ValidationError.forField(
          "storage",
          "folder",
          'pass exactly one of "folder" or "write"',
        );
      }
      scopeOf(save.pluginInstanceId);
      validateId(save.handle, "handle");
      if (save.folder) return saveFolder(save.folder, save);
      await mkdir(tmpRoot, { recursive: true });
      const dir = await mkdtemp(join(tmpRoot, "trainable-save-"));
      try {
        await (save.write as (dir: string) => Promise<void>)(dir);
        return await saveFolder(dir, save);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    resolve,

    fetch: fetchInto,

    async withCheckpoint<T>(opts: WithCheckpointOptions<T>): Promise<T> {
      scopeOf(opts.pluginInstanceId);
      await mkdir(tmpRoot, { recursive: true });
      const dir = await mkdtemp(join(tmpRoot, "trainable-load-"));
      try {
        const target = join(dir, "checkpoint");
        const ref = await fetchInto({ ...opts, target });
        return await opts.use(target, ref);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async setHandle(opts: SetHandleOptions) {
      const scope = scopeOf(opts.pluginInstanceId);
      const handle = validateId(opts.handle, "handle");
      // The ref comes from the caller: it must be a well-formed ref whose files match its digest.
      const parsedRef = CheckpointRefSchema.safeParse(opts.ref);
      if (!parsedRef.success) throw ValidationError.fromZod("storage", "ref", parsedRef.error);
      if (manifestDigest(opts.ref.files, opts.ref.directories) !== opts.ref.digest) {
        throw ValidationError.forField("storage", "ref", "its files do not match its digest");
      }
      if (!opts.ref.archivePath.startsWith(blobPrefix(scope))) {
        throw ValidationError.forField(
          "storage",
          "ref",
          `belongs to another scope than ${scope.workspace}/${scope.pluginInstanceId}`,
        );
      }
      if (!(await backend.head(opts.ref.archivePath, { signal: opts.signal }))) {
        throw new NotFoundError(
          `[storage] The blob of that ref is missing (${opts.ref.archivePath})`,
        );
      }
      return appendRef(
        backend,
        scope,
        { ...opts.ref, handle },
        {
          expectedDigest: opts.expectedDigest,
          history: refHistory,
          signal: opts.signal,
        },
      );
    },

    async list({ pluginInstanceId, signal }) {
      const scope = scopeOf(pluginInstanceId);
      const handles = [...(await listHandles(scope, signal)).entries()].sort(([a], [b]) =>
        a < b ? -1 : 1,
      );
      const refs = await mapLimit(handles, 8, async ([handle, seq]) => {
        try {
          return await readRefAt(backend, refVersionKey(scope, handle, seq), signal);
        } catch (error) {
          if (NotFoundError.isInstance(error))
            return (await readLatestRef(backend, scope, handle, signal))?.ref;
          throw error;
        }
      });
      return refs.filter((r): r is CheckpointRef => r !== undefined);
    },

    async history({ pluginInstanceId, handle, signal }) {
      const scope = scopeOf(pluginInstanceId);
      validateId(handle, "handle");
      const seqs = await listRefSeqs(backend, scope, handle, signal);
      const refs = await mapLimit([...seqs].reverse(), 8, (seq) =>
        readRefAt(backend, refVersionKey(scope, handle, seq), signal).catch((error) => {
          if (NotFoundError.isInstance(error)) return undefined;
          throw error;
        }),
      );
      return refs.filter((r): r is CheckpointRef => r !== undefined);
    },

    async delete({ pluginInstanceId, handle, signal }) {
      const scope = scopeOf(pluginInstanceId);
      validateId(handle, "handle");
      const seqs = await listRefSeqs(backend, scope, handle, signal);
      if (seqs.length === 0) {
        throw new NotFoundError(`[storage] No checkpoint at ${describe(scope, handle)} to delete`);
      }
      // Oldest first: readers keep seeing the current version until it is the last to go.
      for (const seq of seqs) await backend.delete(refVersionKey(scope, handle, seq), { signal });
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
        backend,
        scope: scopeOf(opts.pluginInstanceId),
        now,
        readRefAt,
        ...opts,
      });
    },

    async close() {
      await backend.close?.();
    },
  };
  return store;
}
