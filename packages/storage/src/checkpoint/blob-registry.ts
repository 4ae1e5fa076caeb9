import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CHECKPOINT_FORMAT_VERSION, NotFoundError } from "@trainable/core";
import { z } from "zod";
import { putCreateOnly } from "../backends/put-create-only.js";
import type { RemoteBackend } from "../backends/types.js";
import { readSmallObject } from "../util/read-small-object.js";
import {
  blobKey,
  doomKey,
  indexKey,
  indexPrefix,
  manifestKey,
  parseIndexKey,
  pinKey,
  quarantineKey,
  type Scope,
} from "./keys.js";

/**
 * The index, pins, doom and quarantine markers: how saves and garbage collection agree on
 * which archives may be reused and which may be deleted, without clocks and without trusting
 * that a delete lands when it is sent (docs/architecture.md, "Garbage collection").
 *
 * - An index record `index/sha256/{hex}/{id}.json` says "blob {id} is a complete archive of
 *   checkpoint sha256:{hex}"; it is written create-only after the archive and its manifest.
 * - Before a save or `setHandle` references a blob, it writes a pin `pins/{id}/…` and only then
 *   checks that the blob is not doomed. After writing its refs it checks again.
 * - Before a collection deletes a blob, it writes `doomed/{id}.json` and only then lists the
 *   refs and pins again; it deletes only when neither names the blob. A doomed blob is never
 *   reused, and its marker stays until the blob is gone.
 * Each side writes its own marker before it reads the other's, so at least one of them sees
 * the other: either the collection sees the pin or ref and keeps the blob, or the save sees
 * the doom and does not use (or re-uploads) it — whenever the delete lands.
 */

/** A pin not refreshed for this long is taken for one left by a killed process. */
export const DEFAULT_PIN_TTL_MS = 60 * 60 * 1000;

/** The largest index record written or read. */
const MAX_INDEX_RECORD_BYTES = 4096;

export const IndexRecord = z.object({
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/),
  blobId: z.string().regex(/^[0-9a-z]{9}-[0-9a-f]{16}$/),
  size: z.number().int().min(0),
  compression: z.enum(["none", "gzip"]),
  storedSha256: z
    .string()
    .regex(/^[a-f0-9]{64}$/)
    .optional(),
  manifestSize: z.number().int().min(0),
  fileCount: z.number().int().min(0),
  directoryCount: z.number().int().min(0),
  totalBytes: z.number().int().min(0),
  createdAt: z.iso.datetime({ offset: true }),
});
export type IndexRecord = z.infer<typeof IndexRecord>;

export interface Pin {
  readonly id: string;
  /**
   * Writes the pin again now (after any refresh in flight), so that it is fresh when what
   * follows is checked: a save calls it right before checking for a doom and writing its refs.
   */
  refresh(signal?: AbortSignal): Promise<void>;
  /**
   * Deletes the pin (idempotent). With an aborted `signal` it does not wait: a pin left behind
   * goes stale and garbage collection removes it.
   */
  release(signal?: AbortSignal): Promise<void>;
}

/** Pins blob `id` and keeps the pin fresh (every `ttlMs / 4`) until released. */
export async function pinBlob(
  backend: RemoteBackend,
  scope: Scope,
  id: string,
  options: { ttlMs: number; signal?: AbortSignal },
): Promise<Pin> {
  const key = pinKey(scope, id, randomBytes(8).toString("hex"));
  let beat = 0;
  const body = () =>
    Buffer.from(
      JSON.stringify({
        host: hostname(),
        pid: process.pid,
        beat: beat++,
        at: new Date().toISOString(),
      }),
    );
  const first = body();
  await backend.put(key, first, { contentLength: first.length, signal: options.signal });
  let refreshing: Promise<unknown> | undefined;
  const timer = setInterval(
    () => {
      if (refreshing) return;
      const next = body();
      refreshing = backend
        .put(key, next, { contentLength: next.length })
        .catch(() => {})
        .finally(() => {
          refreshing = undefined;
        });
    },
    Math.max(1, Math.floor(options.ttlMs / 4)),
  );
  timer.unref?.();
  let released = false;
  return {
    id,
    async refresh(signal?: AbortSignal) {
      if (released) return;
      await refreshing;
      const next = body();
      await backend.put(key, next, { contentLength: next.length, signal });
    },
    async release(signal?: AbortSignal) {
      if (released) return;
      released = true;
      clearInterval(timer);
      const deleting = (async () => {
        await refreshing;
        await backend.delete(key, { signal }).catch(() => {});
      })();
      if (!signal?.aborted) await deleting;
    },
  };
}

async function isDoomed(
  backend: RemoteBackend,
  scope: Scope,
  id: string,
  signal?: AbortSignal,
): Promise<boolean> {
  return (await backend.head(doomKey(scope, id), { signal })) !== undefined;
}

/**
 * Whether a blob a ref names was collected: doomed, or already gone. Checked in that order: a
 * collection removes a doom only once it has found the blob deleted.
 */
export async function isCollected(
  backend: RemoteBackend,
  scope: Scope,
  blob: { id: string; archiveKey: string; size: number },
  signal?: AbortSignal,
): Promise<boolean> {
  if (await isDoomed(backend, scope, blob.id, signal)) return true;
  return (await backend.head(blob.archiveKey, { signal }))?.size !== blob.size;
}

export async function readIndexRecord(
  backend: RemoteBackend,
  key: string,
  signal?: AbortSignal,
): Promise<IndexRecord | undefined> {
  try {
    const bytes = await readSmallObject(backend, key, { maxBytes: MAX_INDEX_RECORD_BYTES, signal });
    const parsed = IndexRecord.safeParse(JSON.parse(bytes.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (NotFoundError.isInstance(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * A stored, reusable blob of `digest`, pinned: its index record is well-formed, it is neither
 * doomed nor quarantined, and its archive and manifest have the sizes the record says. The
 * caller releases the pin once its refs are written.
 */
export async function claimStoredBlob(
  backend: RemoteBackend,
  scope: Scope,
  digest: string,
  options: { ttlMs: number; signal?: AbortSignal },
): Promise<{ record: IndexRecord; pin: Pin } | undefined> {
  const { signal } = options;
  const candidates: Array<{ key: string; id: string }> = [];
  for await (const info of backend.list(indexPrefix(scope, digest), { signal })) {
    const parsed = parseIndexKey(info.key, scope);
    if (parsed?.digest === digest) candidates.push({ key: info.key, id: parsed.id });
  }
  for (const { key, id } of candidates) {
    // The pin goes first (the id is in the key), with the record read beside it.
    const [record, pin] = await Promise.all([
      readIndexRecord(backend, key, signal),
      pinBlob(backend, scope, id, options),
    ]);
    try {
      if (record?.digest === digest && record.blobId === id) {
        const [doomed, quarantined, archive, manifest] = await Promise.all([
          isDoomed(backend, scope, id, signal),
          backend.head(quarantineKey(scope, id), { signal }),
          backend.head(blobKey(scope, id, record.compression), { signal }),
          backend.head(manifestKey(scope, id), { signal }),
        ]);
        if (
          !doomed &&
          quarantined === undefined &&
          archive?.size === record.size &&
          manifest?.size === record.manifestSize
        ) {
          return { record, pin };
        }
      }
    } catch (error) {
      await pin.release();
      throw error;
    }
    await pin.release();
  }
  return undefined;
}

/** Publishes blob `record.blobId` as a copy of `record.digest` (create-only). */
export async function publishIndexRecord(
  backend: RemoteBackend,
  scope: Scope,
  record: IndexRecord,
  signal?: AbortSignal,
): Promise<void> {
  await putCreateOnly(
    backend,
    indexKey(scope, record.digest, record.blobId),
    Buffer.from(JSON.stringify(record)),
    { contentType: "application/json", signal },
  );
}

/**
 * Marks blob `id` as failing verification: no save reuses it again (its index record goes),
 * and `verify` reports it. The archive stays while refs name it (they fail to load anyway).
 */
export async function quarantineBlob(
  backend: RemoteBackend,
  scope: Scope,
  id: string,
  options: { digest?: string; reason: string; signal?: AbortSignal },
): Promise<void> {
  const body = Buffer.from(
    JSON.stringify({ reason: options.reason, at: new Date().toISOString() }),
  );
  await backend.put(quarantineKey(scope, id), body, {
    contentLength: body.length,
    contentType: "application/json",
    signal: options.signal,
  });
  if (options.digest !== undefined) {
    await backend.delete(indexKey(scope, options.digest, id), { signal: options.signal });
  }
}
