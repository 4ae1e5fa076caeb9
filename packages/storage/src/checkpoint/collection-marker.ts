import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { CancelledError, RemoteError } from "@trainable/core";
import type { RemoteBackend } from "../backends/types.js";
import { type Scope, scopePrefix } from "./keys.js";

/**
 * "A garbage collection is running" markers, `{scope}/gc/{startedAt}-{random}.json`.
 *
 * A collection decides a blob is unreferenced from a listing of the refs, then deletes it. A
 * save that points a new ref at that blob after the listing (a deduplicated save reusing an
 * old blob, or any save when `minAgeMs` is 0) would be left with a ref to nothing. Checking the
 * blob again after writing the ref does not close that race on its own: the collection may
 * delete the blob just after the check. The marker does: a collection writes it before it
 * lists anything and removes it after its last delete, and a save, after writing its refs,
 * waits until no collection is running and only then checks (and re-uploads) its blob. Either
 * the collection listed the refs after the save wrote its ref (and keeps the blob), or its
 * marker was already there when the save looked, and the save's check comes after its deletes.
 *
 * The marker is a lease: the collection rewrites it every `leaseMs / 6` and stops (deleting
 * nothing more) if it could not for `leaseMs / 2`; a waiting save treats a marker that has not
 * changed for `leaseMs` as left by a crashed collection and deletes it.
 */

export const COLLECTION_LEASE_MS = 30_000;

/** A marker older than this (by the server's clock) is stale at once, whatever clocks say. */
const MAX_MARKER_AGE_FACTOR = 10;

export function collectionsPrefix(scope: Scope): string {
  return `${scopePrefix(scope)}gc/`;
}

export interface CollectionLease {
  /** Throws when the marker could not be kept fresh: the collection must stop deleting. */
  assertHeld(): void;
  release(): Promise<void>;
}

/** Writes this collection's marker and keeps it fresh until `release()`. */
export async function announceCollection(
  backend: RemoteBackend,
  scope: Scope,
  options: { leaseMs?: number; signal?: AbortSignal } = {},
): Promise<CollectionLease> {
  const leaseMs = options.leaseMs ?? COLLECTION_LEASE_MS;
  const startedAt = new Date();
  const key = `${collectionsPrefix(scope)}${String(startedAt.getTime()).padStart(15, "0")}-${randomBytes(6).toString("hex")}.json`;
  let beat = 0;
  // Every version differs (an S3 ETag is the MD5 of the body: it must change on refresh).
  const body = () =>
    Buffer.from(
      JSON.stringify({
        startedAt: startedAt.toISOString(),
        refreshedAt: new Date().toISOString(),
        beat: beat++,
        host: hostname(),
        pid: process.pid,
      }),
    );
  const first = body();
  await backend.put(key, first, {
    ifNoneMatch: "*",
    contentLength: first.length,
    contentType: "application/json",
    signal: options.signal,
  });
  let refreshedAt = performance.now();
  let lapsed = false;
  let refreshing: Promise<void> | undefined;
  const timer = setInterval(
    () => {
      if (refreshing) return;
      const started = performance.now();
      const next = body();
      refreshing = backend
        .put(key, next, { contentLength: next.length, contentType: "application/json" })
        .then(
          () => {
            if (started - refreshedAt > leaseMs / 2) lapsed = true;
            refreshedAt = started;
          },
          () => {},
        )
        .finally(() => {
          refreshing = undefined;
        });
    },
    Math.max(1, Math.floor(leaseMs / 6)),
  );
  timer.unref?.();
  return {
    assertHeld() {
      const since = performance.now() - refreshedAt;
      if (lapsed || since > leaseMs / 2) {
        lapsed = true;
        throw new RemoteError(
          `[storage] Garbage collection of ${scope.workspace}/${scope.pluginInstanceId} stopped: its in-progress marker ${key} was not refreshed for ${Math.round(since)} ms, so concurrent saves may no longer wait for it`,
          { retryable: true },
        );
      }
    },
    async release() {
      clearInterval(timer);
      await refreshing;
      await backend.delete(key).catch(() => {});
    },
  };
}

/**
 * Waits until no garbage collection of `scope` is running (see above). Markers that have not
 * changed for `leaseMs` are deleted as stale. Resolves at once when there is none.
 */
export async function waitForCollections(
  backend: RemoteBackend,
  scope: Scope,
  options: { leaseMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const leaseMs = options.leaseMs ?? COLLECTION_LEASE_MS;
  const prefix = collectionsPrefix(scope);
  const seen = new Map<string, { etag: string; since: number }>();
  let delay = 20;
  for (;;) {
    const now = performance.now();
    let running = 0;
    for await (const info of backend.list(prefix, { signal: options.signal })) {
      const previous = seen.get(info.key);
      const since = previous && previous.etag === info.etag ? previous.since : now;
      seen.set(info.key, { etag: info.etag, since });
      const age = info.lastModified ? Date.now() - info.lastModified.getTime() : 0;
      if (now - since > leaseMs || age > MAX_MARKER_AGE_FACTOR * leaseMs) {
        await backend.delete(info.key, { signal: options.signal }).catch(() => {});
        continue;
      }
      running++;
    }
    if (running === 0) return;
    CancelledError.throwIfAborted(options.signal, "[storage] Waiting for a garbage collection");
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}
