import type { CheckpointRef } from "@trainable/core";
import { tryLock } from "@trainable/internal-node";
import type { DiskCacheOptions } from "./disk-cache.js";
import { type EntryMarker, readMarker, writeMarker } from "./entry-marker.js";
import type { EntryPaths } from "./entry-paths.js";
import type { FileFingerprint } from "./file-fingerprint.js";
import { type VerifyLevel, verifyEntry } from "./verify-entry.js";

/** The fields of a ref that describe its manifest (checked against it by `manifestProblem`). */
const SUMMARY = ["fileCount", "directoryCount", "totalBytes", "manifestSize"] as const;

export type Check = { state: "ok" } | { state: "missing" } | { state: "bad"; reason: string };

export interface CheckDeps
  extends Pick<DiskCacheOptions, "verify" | "stats" | "logger" | "lockStaleMs"> {
  /** Marker tokens whose files this process has hashed (or downloaded) itself. */
  verified: Set<string>;
}

/**
 * Checks a cache entry: its marker (whose manifest must hash to the digest), online that the
 * ref agrees with it, then its files at the configured level (`"full"` hashes once per cache
 * and install, then checks fingerprints).
 */
export async function checkEntry(
  deps: CheckDeps,
  entry: { p: EntryPaths; ref: CheckpointRef; offline: boolean; locked: boolean },
  signal?: AbortSignal,
): Promise<Check> {
  const { p, ref, offline, locked } = entry;
  const read = await readMarker(p.marker, ref.digest);
  if (read.state !== "ok") return read;
  const { marker } = read;
  // readMarker checked that the marker's manifest hashes to the digest and agrees with the
  // marker's ref; online, the ref just read from the store must describe it the same way.
  const differs = offline ? undefined : SUMMARY.find((field) => marker.ref[field] !== ref[field]);
  if (differs !== undefined) {
    return {
      state: "bad",
      reason: `its manifest differs from the ref's (${differs} ${marker.ref[differs]}, the ref says ${ref[differs]})`,
    };
  }
  const configured = deps.verify;
  // "full" hashes once per cache instance and install, then checks fingerprints.
  const level: VerifyLevel =
    configured === "full" ? (deps.verified.has(marker.token) ? "stat" : "full") : configured;
  const { stats } = deps;
  const result = await verifyEntry({
    dir: p.dir,
    files: marker.manifest.files,
    directories: marker.manifest.directories,
    level,
    fingerprints: marker.fingerprints,
    probeDir: p.tmp,
    signal,
    onHashed: (bytes) => {
      stats.verifiedBytes += bytes;
    },
  });
  if (!result.ok) return { state: "bad", reason: result.reason };
  if (level === "full") deps.verified.add(marker.token);
  if (result.fingerprints)
    await renewFingerprints(deps, { p, marker, locked }, result.fingerprints);
  return { state: "ok" };
}

/**
 * Records fingerprints of files found intact by hashing, so the next check is `lstat`s
 * only. Done under the entry's lock (taken here when free; skipped when another process
 * holds it), and only if the marker is still the same install. Best effort.
 */
async function renewFingerprints(
  deps: CheckDeps,
  entry: { p: EntryPaths; marker: EntryMarker; locked: boolean },
  fingerprints: FileFingerprint[],
): Promise<void> {
  const { p, marker, locked } = entry;
  try {
    const lock = locked ? undefined : await tryLock(p.lock, { staleMs: deps.lockStaleMs });
    if (!locked && !lock) return;
    try {
      const now = await readMarker(p.marker, marker.digest);
      if (now.state !== "ok" || now.marker.token !== marker.token) return;
      await writeMarker({
        path: p.marker,
        tmpDir: p.tmp,
        ref: now.marker.ref,
        manifest: now.marker.manifest,
        now: new Date(),
        fingerprints,
        previous: now.marker,
      });
      deps.logger.debug?.(`[cache] Renewed the file fingerprints of ${p.dir}`);
    } finally {
      await lock?.release();
    }
  } catch (error) {
    deps.logger.warn?.(
      `[cache] Could not record file fingerprints for ${p.dir}: ${(error as Error)?.message ?? error}`,
    );
  }
}
