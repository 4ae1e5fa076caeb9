import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { IntegrityError, NotFoundError } from "@trainable/core";
import { putCreateOnly } from "../backends/put-create-only.js";
import type { ObjectInfo, RemoteBackend } from "../backends/types.js";
import { readSmallObject } from "../util/read-small-object.js";
import { blobOf } from "./fetch-checkpoint.js";
import {
  blobsPrefix,
  doomedPrefix,
  doomKey,
  gcPrefix,
  indexRoot,
  parseBlobsKey,
  parseIndexKey,
  parseMarkerKey,
  parsePinKey,
  parseRefVersionKey,
  pinsPrefix,
  quarantinePrefix,
  refsPrefix,
  type Scope,
  scopePrefix,
} from "./keys.js";
import { MAX_REF_BYTES, parseRefVersion } from "./ref-log.js";

export interface GcOptions {
  pluginInstanceId: string;
  /**
   * Blobs younger than this are kept whatever the refs say (default one hour): a margin on
   * top of the pins, which are what protect a save in progress.
   */
  minAgeMs?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface GcResult {
  /** Archive keys deleted (or that would be, when dry-running). */
  deleted: string[];
  bytesFreed: number;
  /** Leftovers removed: temp files and incomplete uploads of killed saves, orphan manifests, index records, markers. */
  leftovers: { removed: number; bytes: number };
  liveBlobs: number;
  dryRun: boolean;
}

interface BlobListing {
  archive?: ObjectInfo;
  manifest?: ObjectInfo;
}

/**
 * Deletes the blobs no ref version names (current or kept history) and nothing pins, with
 * doom markers as a fence (see blob-registry.ts): a blob is doomed first, then the refs and
 * pins are read again, and it is deleted only when still unnamed. A save that pins it after
 * the doom sees the doom and does not use it; a save that pinned it before is seen, however
 * late a delete lands — as long as the save's pin is fresh. A save stalled past its pin's
 * lifetime before its ref write lands repairs after the fact (see save-checkpoint.ts and
 * repair-refs.ts). A malformed ref stops the
 * collection: with an unknown live set, nothing is deleted.
 */
export async function garbageCollect(
  options: GcOptions & { backend: RemoteBackend; scope: Scope; pinTtlMs: number },
): Promise<GcResult> {
  const { backend, scope, signal } = options;
  const minAgeMs = options.minAgeMs ?? 60 * 60 * 1000;
  const dryRun = options.dryRun ?? false;
  const run = await startRun(backend, scope, dryRun, signal);
  try {
    const blobs = new Map<string, BlobListing>();
    for await (const info of backend.list(blobsPrefix(scope), { signal })) {
      const parsed = parseBlobsKey(info.key, scope);
      if (!parsed) continue;
      const entry = blobs.get(parsed.id) ?? {};
      if (parsed.kind === "archive") entry.archive = info;
      else entry.manifest = info;
      blobs.set(parsed.id, entry);
    }
    const index = new Map<string, string[]>();
    for await (const info of backend.list(indexRoot(scope), { signal })) {
      const parsed = parseIndexKey(info.key, scope);
      if (parsed) index.set(parsed.id, [...(index.get(parsed.id) ?? []), info.key]);
    }
    const seenRefs = new Set<string>();
    const live = await liveBlobs(backend, scope, seenRefs, signal);
    const pinned = await pinnedBlobs(backend, scope, run.now, options.pinTtlMs, signal);
    const cutoff = run.now - minAgeMs;
    const candidates = [...blobs]
      .filter(([id, entry]) => {
        if (live.has(id) || pinned.fresh.has(id)) return false;
        const newest = Math.max(
          entry.archive?.lastModified?.getTime() ?? 0,
          entry.manifest?.lastModified?.getTime() ?? 0,
        );
        return newest <= cutoff;
      })
      .map(([id]) => id);

    const result: GcResult = {
      deleted: [],
      bytesFreed: 0,
      leftovers: { removed: 0, bytes: 0 },
      liveBlobs: live.size,
      dryRun,
    };
    if (dryRun) {
      for (const id of candidates) {
        const entry = blobs.get(id)!;
        if (entry.archive) {
          result.deleted.push(entry.archive.key);
          result.bytesFreed += entry.archive.size;
        }
      }
      return result;
    }

    // The fence: doom first, then look again.
    for (const id of candidates) await doom(backend, scope, id, signal);
    const liveNow = await liveBlobs(backend, scope, seenRefs, signal, live);
    const pinnedNow = await pinnedBlobs(backend, scope, run.now, options.pinTtlMs, signal);
    for (const id of candidates) {
      if (liveNow.has(id) || pinnedNow.fresh.has(id)) {
        // Named again since the first look: no delete was sent, so the doom can go.
        await backend.delete(doomKey(scope, id), { signal });
        continue;
      }
      const entry = blobs.get(id)!;
      for (const key of index.get(id) ?? []) await backend.delete(key, { signal });
      if (entry.archive) {
        await backend.delete(entry.archive.key, { signal });
        result.deleted.push(entry.archive.key);
        result.bytesFreed += entry.archive.size;
      } else {
        result.leftovers.removed++;
      }
      if (entry.manifest) {
        await backend.delete(entry.manifest.key, { signal });
        result.leftovers.bytes += entry.manifest.size;
      }
    }

    // Markers and records whose blob is gone (from an earlier run: this run's dooms stay
    // until the next one, in case its deletes land late).
    const gone = (id: string) => !blobs.has(id);
    for (const [id, keys] of index) {
      if (!gone(id)) continue;
      for (const key of keys) await backend.delete(key, { signal });
      result.leftovers.removed += keys.length;
    }
    for (const prefix of [doomedPrefix(scope), quarantinePrefix(scope)]) {
      for await (const info of backend.list(prefix, { signal })) {
        const id = parseMarkerKey(info.key, prefix);
        if (id !== undefined && gone(id)) {
          await backend.delete(info.key, { signal });
          result.leftovers.removed++;
        }
      }
    }
    for (const key of pinned.stale) {
      await backend.delete(key, { signal });
      result.leftovers.removed++;
    }
    // Markers of collections that were killed (a day old: no collection runs that long).
    for await (const info of backend.list(gcPrefix(scope), { signal })) {
      if (run.now - (info.lastModified?.getTime() ?? run.now) > 24 * 60 * 60 * 1000) {
        await backend.delete(info.key, { signal });
        result.leftovers.removed++;
      }
    }
    const swept = await backend.sweep?.(scopePrefix(scope), { olderThanMs: minAgeMs, signal });
    if (swept) {
      result.leftovers.removed += swept.removed;
      result.leftovers.bytes += swept.bytes;
    }
    result.liveBlobs = liveNow.size;
    return result;
  } finally {
    await run.end();
  }
}

/** Blob ids named by any stored ref version; versions already read are skipped on a second look. */
async function liveBlobs(
  backend: RemoteBackend,
  scope: Scope,
  seen: Set<string>,
  signal: AbortSignal | undefined,
  previous?: Set<string>,
): Promise<Set<string>> {
  const live = new Set(previous);
  for await (const info of backend.list(refsPrefix(scope), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (!parsed || info.size === 0 || seen.has(info.key)) continue;
    let bytes: Buffer;
    try {
      bytes = await readSmallObject(backend, info.key, { maxBytes: MAX_REF_BYTES, signal });
    } catch (error) {
      if (NotFoundError.isInstance(error)) continue;
      throw stopped(error);
    }
    let version: ReturnType<typeof parseRefVersion>;
    try {
      version = parseRefVersion(bytes, info.key, parsed.handle, parsed.seq);
      if (version.kind === "ref") live.add(blobOf(scope, version.ref).id);
    } catch (error) {
      throw stopped(error);
    }
    // A version emptied later still counts as read; one read non-empty keeps its blob this run.
    seen.add(info.key);
  }
  return live;
}

function stopped(error: unknown): unknown {
  if (!IntegrityError.isInstance(error)) return error;
  return new IntegrityError(
    `[storage] Garbage collection stopped: ${error.message}. Fix or delete that ref first.`,
    { cause: error },
  );
}

async function pinnedBlobs(
  backend: RemoteBackend,
  scope: Scope,
  now: number,
  ttlMs: number,
  signal: AbortSignal | undefined,
): Promise<{ fresh: Set<string>; stale: string[] }> {
  const fresh = new Set<string>();
  const stale: string[] = [];
  for await (const info of backend.list(pinsPrefix(scope), { signal })) {
    const parsed = parsePinKey(info.key, scope);
    if (!parsed) continue;
    const age = now - (info.lastModified?.getTime() ?? now);
    if (age > ttlMs) stale.push(info.key);
    else fresh.add(parsed.id);
  }
  return { fresh, stale };
}

async function doom(
  backend: RemoteBackend,
  scope: Scope,
  id: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const body = Buffer.from(JSON.stringify({ at: new Date().toISOString(), host: hostname() }));
  await putCreateOnly(backend, doomKey(scope, id), body, { signal });
}

/**
 * Writes the run's marker and reads back its time as the store sees it, so pin ages and
 * `minAgeMs` are measured on the store's clock, not this machine's.
 */
async function startRun(
  backend: RemoteBackend,
  scope: Scope,
  dryRun: boolean,
  signal: AbortSignal | undefined,
): Promise<{ now: number; end(): Promise<void> }> {
  if (dryRun) return { now: Date.now(), end: async () => {} };
  const key = `${gcPrefix(scope)}${Date.now().toString(36)}-${randomBytes(6).toString("hex")}.json`;
  const body = Buffer.from(JSON.stringify({ host: hostname(), pid: process.pid }));
  await backend.put(key, body, { contentLength: body.length, signal });
  // Read back from a listing, which gives times at the precision of the other listings (S3's
  // HEAD rounds to the second, its listings do not).
  let now: number | undefined;
  for await (const info of backend.list(key, { limit: 1, signal })) {
    now = info.lastModified?.getTime();
  }
  return {
    now: now ?? Date.now(),
    end: () => backend.delete(key).catch(() => {}),
  };
}
