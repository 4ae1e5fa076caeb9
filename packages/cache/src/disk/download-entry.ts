import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { type CheckpointRef, IntegrityError } from "@trainable/core";
import { errno } from "@trainable/internal-node";
import type { DiskCacheOptions } from "./disk-cache.js";
import { type EntryMarker, writeMarker } from "./entry-marker.js";
import { type EntryPaths, ownedName } from "./entry-paths.js";
import { fingerprintOf, settledStats } from "./file-fingerprint.js";
import { manifestProblem } from "./manifest-check.js";

/**
 * Downloads into a private temp folder, reads the checkpoint's manifest from the store (for
 * the marker: later checks, online or offline, need no store call), renames the folder into
 * place and writes the marker (returned); `undefined` if we lost a race.
 */
export async function downloadEntry(
  deps: Pick<DiskCacheOptions, "store" | "stats" | "logger">,
  entry: { p: EntryPaths; pluginInstanceId: string; ref: CheckpointRef },
  signal: AbortSignal,
): Promise<EntryMarker | undefined> {
  const { stats, store } = deps;
  const { p, pluginInstanceId, ref } = entry;
  await mkdir(p.tmp, { recursive: true });
  const work = join(p.tmp, ownedName(p.hex));
  await mkdir(work);
  let progress = 0;
  let counted = false;
  stats.downloads++;
  try {
    const fetched = await store.fetch({
      pluginInstanceId,
      ref,
      target: join(work, "checkpoint"),
      signal,
      onProgress: (event) => {
        if (event.phase === "download") progress = Math.max(progress, event.bytes);
      },
    });
    stats.bytesDownloaded += ref.size;
    counted = true;
    if (fetched.digest !== ref.digest) {
      throw new IntegrityError(
        `[cache] The store returned ${fetched.digest} when asked for ${ref.digest}`,
      );
    }
    const manifest = await store.readManifest({ pluginInstanceId, ref, signal });
    const problem = manifestProblem(ref, manifest);
    if (problem !== undefined) {
      throw new IntegrityError(
        `[cache] The manifest the store returned for ${ref.digest} ${problem}: refusing to cache it`,
      );
    }
    try {
      await rename(join(work, "checkpoint"), p.dir);
    } catch (error) {
      const code = errno(error);
      if (code === "ENOTEMPTY" || code === "EEXIST") return undefined;
      throw error;
    }
    // Fingerprints of the files as extracted (verified by the store), for verify: "stat".
    const paths = manifest.files.map((file) => file.path);
    const settled = await settledStats(p.dir, paths, work).catch((error: unknown) => {
      deps.logger.warn?.(
        `[cache] Could not fingerprint ${p.dir} (it will be hashed when used): ${(error as Error)?.message ?? error}`,
      );
      return [];
    });
    const fingerprints = settled.flatMap((info, i) =>
      info ? [fingerprintOf(paths[i] as string, info)] : [],
    );
    const marker = await writeMarker({
      path: p.marker,
      tmpDir: work,
      ref,
      manifest,
      now: new Date(),
      fingerprints,
    });
    return marker;
  } finally {
    if (!counted) stats.bytesDownloaded += progress;
    await rm(work, { recursive: true, force: true });
  }
}
