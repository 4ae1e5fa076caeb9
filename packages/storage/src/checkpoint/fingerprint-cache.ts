import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, realpath, rm, stat, statfs, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CancelledError, type ManifestEntry } from "@trainable/core";
import { mapLimit, writeFileAtomic } from "@trainable/internal-node";
import { CHUNK_SIZE } from "../archive/chunk-size.js";
import { hashFiles } from "../archive/file-reader-worker.js";
import { type PackedFile, SMALL_FILE_MAX } from "../archive/pack-folder.js";
import type { FolderEntry } from "../archive/walk-folder.js";

/**
 * Remembers, per folder, the sha256 of each file saved from it with the file's identity and
 * change times (device, inode, size, mtime, ctime), so a later save of an unchanged folder
 * knows its digest without uploading anything — and, for settled files, without reading them.
 *
 * A remembered hash is trusted without reading the file only when every field still matches
 * and the file was *settled* when it was read: it lies on the folder's own filesystem, that
 * filesystem is not tmpfs, and its ctime was older than that filesystem's clock when the save
 * started minus `settleMs`. `ctime` cannot be set by user code and moves on any write,
 * truncate, chmod or rename-over; "older than the clock" excludes a change in the same clock
 * tick as the read, and the margin (default 35 s, the kernel's dirty-page expiry plus its
 * flusher interval) covers writes through a shared memory mapping, which move ctime only when
 * they dirty a clean page. A file that matches but is not settled is read and hashed again
 * (no upload when the digest is then found stored), and remembered as settled when it is.
 */
export interface FingerprintCache {
  /**
   * The manifest of `entries` when no file changed since it was remembered (unsettled files
   * are hashed again on the way); undefined when a file is new or changed.
   */
  lookup(
    folder: string,
    entries: readonly FolderEntry[],
    signal?: AbortSignal,
  ): Promise<ManifestEntry[] | undefined>;
  /** The clock of the folder's filesystem now (undefined: cannot be read); take it before reading. */
  clock(folder: string): Promise<bigint | undefined>;
  /** Remembers the files of a save read after `clock` (best effort: failures are ignored). */
  remember(folder: string, files: readonly PackedFile[], clock: bigint | undefined): Promise<void>;
}

type Row = [
  path: string,
  dev: string,
  ino: string,
  size: string,
  mtimeNs: string,
  ctimeNs: string,
  sha256: string,
  settled: 0 | 1,
];

const TMPFS_MAGIC = 0x01021994;

export function createFingerprintCache(
  dir: string,
  options: { settleMs?: number } = {},
): FingerprintCache {
  const settleNs = BigInt(options.settleMs ?? 35_000) * 1_000_000n;
  const fileOf = async (folder: string): Promise<string> => {
    const real = await realpath(folder);
    return join(dir, `${createHash("sha256").update(real).digest("hex")}.json`);
  };

  /** Which stamps count as settled for `folder` at `clock`. */
  const settledRule = async (folder: string, clock: bigint | undefined) => {
    if (clock === undefined) return () => false;
    const device = (await stat(folder, { bigint: true })).dev;
    const tmpfs = await statfs(folder)
      .then((s) => s.type === TMPFS_MAGIC)
      .catch(() => true);
    if (tmpfs) return () => false;
    return (dev: bigint, ctimeNs: bigint) => dev === device && ctimeNs < clock - settleNs;
  };

  const write = async (folder: string, rows: Row[]) => {
    const target = await fileOf(folder);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(target, JSON.stringify({ version: 2, folder, rows }));
  };

  const cache: FingerprintCache = {
    async lookup(folder, entries, signal) {
      let rows: Row[];
      try {
        const parsed = JSON.parse(await readFile(await fileOf(folder), "utf8")) as {
          version?: number;
          rows?: Row[];
        };
        if (parsed.version !== 2 || !Array.isArray(parsed.rows)) return undefined;
        rows = parsed.rows;
      } catch {
        return undefined;
      }
      const known = new Map(rows.map((row) => [row[0], row]));
      const files = entries.filter((entry) => entry.type === "file");
      if (files.some((file) => !known.has(file.path))) return undefined;
      let changed = false;
      const matches = await mapLimit(files, 64, async (file) => {
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
        return { row, dev: st.dev, ctimeNs: st.ctimeNs };
      });
      if (changed) return undefined;
      // Files that were not settled: hash them again (read, nothing uploaded), then remember.
      const unsettled = matches.filter((m) => m!.row[7] !== 1).map((m) => m!);
      if (unsettled.length > 0) {
        const clock = await cache.clock(folder);
        const settled = await settledRule(folder, clock);
        const abs = new Map(files.map((f) => [f.path, f.abs]));
        // Read and hashed on the reader workers, as a save reads them; the stamp after reading
        // must still be the one remembered.
        const hashed = await hashFiles(
          unsettled.map((match) => abs.get(match.row[0])!),
          { smallMax: SMALL_FILE_MAX, chunkSize: CHUNK_SIZE, signal },
        );
        if (hashed === undefined) return undefined;
        unsettled.forEach((match, i) => {
          const { sha256, stamp } = hashed[i]!;
          if (stamp[4] !== match.row[5] || stamp[2] !== match.row[3]) changed = true;
          match.row[6] = sha256;
          match.row[7] = settled(match.dev, match.ctimeNs) ? 1 : 0;
        });
        if (changed) return undefined;
        await write(folder, rows).catch(() => {});
      }
      let f = 0;
      return entries.map((entry) => {
        if (entry.type === "directory") return { type: "directory", path: entry.path };
        const row = matches[f++]!.row;
        return { type: "file", path: entry.path, size: Number(row[3]), sha256: row[6] };
      });
    },

    async clock(folder) {
      return filesystemClock(folder, dir).catch(() => undefined);
    },

    async remember(folder, files, clock) {
      try {
        const settled = await settledRule(folder, clock);
        const rows: Row[] = files.map((file) => [
          file.path,
          String(file.stamp.dev),
          String(file.stamp.ino),
          String(file.stamp.size),
          String(file.stamp.mtimeNs),
          String(file.stamp.ctimeNs),
          file.sha256,
          settled(file.stamp.dev, file.stamp.ctimeNs) ? 1 : 0,
        ]);
        await write(folder, rows);
      } catch {
        // Only an optimisation: the next save hashes the folder again.
      }
    },
  };
  return cache;
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
