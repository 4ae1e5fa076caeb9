import { CancelledError, type CheckpointRef, IntegrityError, NotFoundError } from "@trainable/core";
import { verifyArchive } from "../archive/extract-archive.js";
import { readManifestEntries } from "../archive/manifest.js";
import { quarantineBlob, readIndexRecord } from "./blob-registry.js";
import { blobOf } from "./fetch-checkpoint.js";
import {
  blobKey,
  blobsPrefix,
  indexRoot,
  manifestKey,
  parseBlobsKey,
  parseIndexKey,
  parseMarkerKey,
  parseRefVersionKey,
  quarantinePrefix,
  refsPrefix,
  type Scope,
} from "./keys.js";
import { openDownload } from "./open-download.js";
import { readRefVersion } from "./ref-log.js";
import { mayBeRepaired } from "./repair-refs.js";
import type { StoreContext } from "./store-context.js";

export interface VerifyOptions {
  pluginInstanceId: string;
  /** Quarantine every bad blob: no save reuses it again (default false: report only). */
  repair?: boolean;
  signal?: AbortSignal;
  /** Called after each blob. */
  onProgress?: (progress: { checked: number; total: number; bytes: number }) => void;
}

export interface BadBlob {
  blobId: string;
  archivePath: string;
  digest?: string;
  reason: string;
  /** Handles (current versions) that name it: they cannot be loaded. */
  handles: string[];
  /** Whether it is quarantined now. */
  quarantined: boolean;
}

/**
 * A superseded version naming an archive that a garbage collection deleted, directly followed
 * by the version that repaired it: the same checkpoint (digest), stored again under a fresh
 * archive by the same save. That save's ref write landed after the collection had taken its pin
 * for stale (it was frozen, or its request stalled, for longer than the pin lifetime); it
 * noticed, stored the folder again and moved the handle, and was stopped before withdrawing
 * (emptying) this version. Nothing loadable is missing: the version is not a bad blob, only a
 * dead entry in the handle's history (`history()` leaves it out).
 */
export interface RepairedVersion {
  handle: string;
  /** The deleted archive it names. */
  archivePath: string;
  digest: string;
  /** The archive of the version above it, which holds the same checkpoint. */
  repairedBy: string;
}

export interface VerifyResult {
  /** Blobs re-hashed. */
  checked: number;
  ok: number;
  bad: BadBlob[];
  /** Superseded versions naming a collected archive, each followed by its repair (not bad blobs, not checked). */
  repaired: RepairedVersion[];
  /** Archive bytes read. */
  bytes: number;
  /** Blobs no ref or index record describes (left by killed saves; `gc` removes them). */
  unreferenced: number;
}

interface Described {
  digest: string;
  manifestSize: number;
  size: number;
  compression: "none" | "gzip";
  storedSha256?: string;
  handles: Set<string>;
}

/**
 * Reads a blob's archive against its manifest, as a load does: `undefined` when every byte
 * checks, else why not (damaged, truncated or missing).
 */
async function checkBlob(
  ctx: StoreContext,
  blob: { scope: Scope; id: string; facts: Described; signal: AbortSignal | undefined },
): Promise<string | undefined> {
  const { scope, id, facts, signal } = blob;
  const { backend } = ctx;
  const archivePath = blobKey(scope, id, facts.compression);
  const what = `blob ${archivePath}`;
  const manifestWhat = `the manifest of ${what}`;
  try {
    await verifyArchive({
      source: openDownload({
        backend,
        key: archivePath,
        size: facts.size,
        what,
        signal,
        ...(facts.storedSha256 ? { sha256: facts.storedSha256 } : {}),
      }),
      manifest: readManifestEntries(
        openDownload({
          backend,
          key: manifestKey(scope, id),
          size: facts.manifestSize,
          what: manifestWhat,
          signal,
        }),
        { digest: facts.digest, size: facts.manifestSize, what: manifestWhat, limits: ctx.limits },
      ),
      compression: facts.compression,
      what,
      signal,
    });
    return undefined;
  } catch (error) {
    if (!IntegrityError.isInstance(error) && !NotFoundError.isInstance(error)) throw error;
    return error.message;
  }
}

/**
 * Re-reads every blob of a scope against its manifest — every byte compared or hashed, as a
 * load does — and reports the bad ones: damaged, truncated or missing archives and manifests,
 * including those current refs still name. With `repair`, bad blobs are quarantined.
 */
export async function verifyBlobs(
  ctx: StoreContext,
  scope: Scope,
  options: VerifyOptions,
): Promise<VerifyResult> {
  const { backend } = ctx;
  const { signal } = options;
  const described = new Map<string, Described>();
  const describe = (id: string, facts: Omit<Described, "handles">, handle?: string) => {
    const known = described.get(id) ?? {
      digest: facts.digest,
      manifestSize: facts.manifestSize,
      size: facts.size,
      compression: facts.compression,
      ...(facts.storedSha256 ? { storedSha256: facts.storedSha256 } : {}),
      handles: new Set<string>(),
    };
    if (handle !== undefined) known.handles.add(handle);
    described.set(id, known);
  };
  // Refs first: what they say is what a load will check. A handle's versions list newest first.
  const newest = new Set<string>();
  /** Per handle, the ref version read just before (the next newer non-empty one). */
  const above = new Map<string, CheckpointRef | undefined>();
  /** Versions that may be dead versions followed by their repair, by blob id. */
  const repairedCandidates = new Map<string, { ref: CheckpointRef; versions: RepairedVersion[] }>();
  for await (const info of backend.list(refsPrefix(scope), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (!parsed || info.size === 0) continue;
    const version = await readRefVersion(backend, scope, parsed.handle, parsed.seq, signal);
    if (version.kind === "trimmed") continue; // emptied since it was listed
    if (version.kind === "deleted") {
      newest.add(parsed.handle);
      above.set(parsed.handle, undefined);
      continue;
    }
    const isNewest = !newest.has(parsed.handle);
    newest.add(parsed.handle);
    const { ref } = version;
    const { id } = blobOf(scope, ref);
    const next = above.get(parsed.handle);
    above.set(parsed.handle, ref);
    if (!isNewest && mayBeRepaired(ref, next)) {
      const candidate = repairedCandidates.get(id) ?? { ref, versions: [] };
      candidate.versions.push({
        handle: parsed.handle,
        archivePath: ref.archivePath,
        digest: ref.digest,
        repairedBy: next!.archivePath,
      });
      repairedCandidates.set(id, candidate);
      // Described below unless its archive turns out to be gone.
      continue;
    }
    describe(id, ref, isNewest ? parsed.handle : undefined);
  }
  for await (const info of backend.list(indexRoot(scope), { signal })) {
    const parsed = parseIndexKey(info.key, scope);
    if (!parsed || described.has(parsed.id)) continue;
    const record = await readIndexRecord(backend, info.key, signal);
    if (record && record.blobId === parsed.id) describe(parsed.id, record);
  }
  const present = new Set<string>();
  for await (const info of backend.list(blobsPrefix(scope), { signal })) {
    const parsed = parseBlobsKey(info.key, scope);
    if (parsed?.kind === "archive") present.add(parsed.id);
  }
  // A candidate whose archive is still stored, or that something else names, is checked as
  // usual; one whose archive is gone is a repaired version, not a bad blob.
  const repaired: RepairedVersion[] = [];
  for (const [id, candidate] of repairedCandidates) {
    if (described.has(id) || present.has(id)) describe(id, candidate.ref);
    else repaired.push(...candidate.versions);
  }
  const quarantined = new Set<string>();
  for await (const info of backend.list(quarantinePrefix(scope), { signal })) {
    const id = parseMarkerKey(info.key, quarantinePrefix(scope));
    if (id !== undefined) quarantined.add(id);
  }

  const result: VerifyResult = { checked: 0, ok: 0, bad: [], repaired, bytes: 0, unreferenced: 0 };
  const total = described.size;
  for (const [id, facts] of described) {
    CancelledError.throwIfAborted(signal, "[storage] Verify");
    const archivePath = blobKey(scope, id, facts.compression);
    const reason = await checkBlob(ctx, { scope, id, facts, signal });
    if (reason === undefined) result.bytes += facts.size;
    result.checked++;
    if (reason === undefined) {
      result.ok++;
    } else {
      if (options.repair) {
        await quarantineBlob(backend, scope, id, { digest: facts.digest, reason, signal });
        quarantined.add(id);
      }
      result.bad.push({
        blobId: id,
        archivePath,
        digest: facts.digest,
        reason,
        handles: [...facts.handles].sort(),
        quarantined: quarantined.has(id),
      });
    }
    options.onProgress?.({ checked: result.checked, total, bytes: result.bytes });
  }
  for (const id of present) if (!described.has(id)) result.unreferenced++;
  return result;
}
