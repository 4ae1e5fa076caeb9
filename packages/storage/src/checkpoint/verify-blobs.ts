import { CancelledError, IntegrityError, NotFoundError } from "@trainable/core";
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

export interface VerifyResult {
  /** Blobs re-hashed. */
  checked: number;
  ok: number;
  bad: BadBlob[];
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
  // Refs first: what they say is what a load will check.
  const newest = new Set<string>();
  for await (const info of backend.list(refsPrefix(scope), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (!parsed || info.size === 0) continue;
    const version = await readRefVersion(backend, scope, parsed.handle, parsed.seq, signal);
    if (version.kind !== "ref") {
      newest.add(parsed.handle);
      continue;
    }
    const isNewest = !newest.has(parsed.handle);
    newest.add(parsed.handle);
    const { id } = blobOf(scope, version.ref);
    describe(id, version.ref, isNewest ? parsed.handle : undefined);
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
  const quarantined = new Set<string>();
  for await (const info of backend.list(quarantinePrefix(scope), { signal })) {
    const id = parseMarkerKey(info.key, quarantinePrefix(scope));
    if (id !== undefined) quarantined.add(id);
  }

  const result: VerifyResult = { checked: 0, ok: 0, bad: [], bytes: 0, unreferenced: 0 };
  const total = described.size;
  for (const [id, facts] of described) {
    CancelledError.throwIfAborted(signal, "[storage] Verify");
    const archivePath = blobKey(scope, id, facts.compression);
    const what = `blob ${archivePath}`;
    let reason: string | undefined;
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
            what: `the manifest of ${what}`,
            signal,
          }),
          {
            digest: facts.digest,
            size: facts.manifestSize,
            what: `the manifest of ${what}`,
            limits: ctx.limits,
          },
        ),
        compression: facts.compression,
        what,
        signal,
      });
      result.bytes += facts.size;
    } catch (error) {
      if (!IntegrityError.isInstance(error) && !NotFoundError.isInstance(error)) throw error;
      reason = error.message;
    }
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
