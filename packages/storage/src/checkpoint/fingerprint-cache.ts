import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CancelledError } from "@trainable/core";
import type { ManifestEntry } from "../archive/manifest.js";
import type { PackedFile } from "../archive/pack-folder.js";
import type { FolderEntry } from "../archive/walk-folder.js";
import { mapLimit } from "../util/map-limit.js";

/**
 * Remembers, per folder, the sha256 of each file saved from it with the file's identity and
 * change times (device, inode, size, mtime, ctime), so a later save of an unchanged folder
 * knows its digest from `lstat` alone — O(files), not O(bytes) — and uploads nothing.
 *
 * A remembered hash is trusted only when every field still matches and the file was
 * *settled* when it was read: its ctime was older than the clock of its own filesystem when
 * the save started (measured by creating a file on that filesystem, `clock()`). `ctime`
 * cannot be set by user code and moves on any write, truncate, chmod or rename-over; any
 * change after the save started gets a ctime at or after that clock, so it differs from a
 * settled one even on a coarse clock. A folder whose filesystem clock cannot be read that way
 * is simply not remembered.
 */
export interface FingerprintCache {
  /** The manifest of `entries` when every file is remembered and unchanged; else undefined. */
  lookup(
    folder: string,
    entries: readonly FolderEntry[],
    signal?: AbortSignal,
  ): Promise<ManifestEntry[] | undefined>;
  /** The clock of the folder's filesystem now (undefined: cannot be read); take it before reading. */
  clock(folder: string): Promise<bigint | undefined>;
  /** Remembers the files of a save read after `clock` (best effort: failures are ignored). */
  remember(folder: string, files: readonly PackedFile[], clock: bigint): Promise<void>;
}

type Row = [
  path: string,
  dev: string,
  ino: string,
  size: string,
  mtimeNs: string,
  ctimeNs: string,
  sha256: string,
];

export function createFingerprintCache(dir: string): FingerprintCache {
  const fileOf = async (folder: string): Promise<string> => {
    const real = await realpath(folder);
    return join(dir, `${createHash("sha256").update(real).digest("hex")}.json`);
  };

  return {
    async lookup(folder, entries, signal) {
      let rows: Row[];
      try {
        const parsed = JSON.parse(await readFile(await fileOf(folder), "utf8")) as {
          version?: number;
          rows?: Row[];
        };
        if (parsed.version !== 1 || !Array.isArray(parsed.rows)) return undefined;
        rows = parsed.rows;
      } catch {
        return undefined;
      }
      const known = new Map(rows.map((row) => [row[0], row]));
      const files = entries.filter((entry) => entry.type === "file");
      if (files.some((file) => !known.has(file.path))) return undefined;
      let changed = false;
      const shas = await mapLimit(files, 64, async (file) => {
        if (changed) return undefined;
        CancelledError.throwIfAborted(signal, "[storage] Save");
        const row = known.get(file.path)!;
        const st = await lstat(file.abs, { bigint: true }).catch(() => undefined);
        if (
          st === undefined ||
          !st.isFile() ||
          String(st.dev) !== row[1] ||
          String(st.ino) !== row[2] ||
          String(st.size) !== row[3] ||
          String(st.mtimeNs) !== row[4] ||
          String(st.ctimeNs) !== row[5]
        ) {
          changed = true;
          return undefined;
        }
        return { size: Number(st.size), sha256: row[6] };
      });
      if (changed) return undefined;
      let f = 0;
      return entries.map((entry) => {
        if (entry.type === "directory") return { type: "directory", path: entry.path };
        const known = shas[f++]!;
        return { type: "file", path: entry.path, size: known.size, sha256: known.sha256 };
      });
    },

    async clock(folder) {
      return filesystemClock(folder, dir).catch(() => undefined);
    },

    async remember(folder, files, clock) {
      try {
        const rows: Row[] = files
          .filter((file) => file.stamp.ctimeNs < clock)
          .map((file) => [
            file.path,
            String(file.stamp.dev),
            String(file.stamp.ino),
            String(file.stamp.size),
            String(file.stamp.mtimeNs),
            String(file.stamp.ctimeNs),
            file.sha256,
          ]);
        const target = await fileOf(folder);
        await mkdir(dir, { recursive: true });
        const temp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
        await writeFile(temp, JSON.stringify({ version: 1, folder, rows }));
        await rename(temp, target).catch(async (error) => {
          await rm(temp, { force: true });
          throw error;
        });
      } catch {
        // Only an optimisation: the next save hashes the folder again.
      }
    },
  };
}

/**
 * The current time of the filesystem holding `folder`, as the ctime of a file created on it
 * now: in `cacheDir` when that is on the same device, else next to the folder. Undefined
 * when neither can be written on that device.
 */
async function filesystemClock(folder: string, cacheDir: string): Promise<bigint | undefined> {
  const device = (await stat(folder, { bigint: true })).dev;
  await mkdir(cacheDir, { recursive: true }).catch(() => {});
  for (const place of [cacheDir, dirname(await realpath(folder))]) {
    const where = await stat(place, { bigint: true }).catch(() => undefined);
    if (where?.dev !== device) continue;
    const probe = join(place, `.trainable-clock-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(probe, "");
      return (await stat(probe, { bigint: true })).ctimeNs;
    } catch {
      // not writable: try the next place
    } finally {
      await rm(probe, { force: true }).catch(() => {});
    }
  }
  return undefined;
}
