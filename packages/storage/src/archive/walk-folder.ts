import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { CancelledError, comparePaths, ValidationError } from "@trainable/core";
import type { ExtractLimits } from "./default-extract-limits.js";
import { entryPathProblem } from "./entry-path-problem.js";

/** A file or directory found under a checkpoint folder. */
export interface FolderEntry {
  type: "file" | "directory";
  /** Relative path, `/`-separated. */
  path: string;
  /** Absolute path on this machine. */
  abs: string;
}

export interface WalkFolderOptions {
  /** The checkpoint folder. Followed if it is itself a symlink; nothing inside it is. */
  folder: string;
  limits?: Partial<ExtractLimits>;
  signal?: AbortSignal;
  /** Directories read at the same time (default 8). */
  concurrency?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Lists a checkpoint folder: every directory and regular file below it, sorted by the UTF-8
 * bytes of their paths (archive order), directories read in parallel. Symlinks, devices,
 * sockets and FIFOs are a `ValidationError` naming the path, as are names an archive could not
 * carry safely (`entryPathProblem`) and folders over the entry or path-length limits, which
 * are the same limits a load enforces: what saves can be loaded.
 */
export async function walkFolder(options: WalkFolderOptions): Promise<FolderEntry[]> {
  const { folder, signal } = options;
  if (typeof folder !== "string" || folder === "") {
    throw new ValidationError("[storage] Invalid folder: must be a non-empty string", {
      issues: [{ path: "folder", message: "must be a non-empty string" }],
    });
  }
  const maxEntries = options.limits?.maxEntries ?? 1_000_000;
  const maxPathLength = options.limits?.maxPathLength ?? 4096;
  const root = path.resolve(folder);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(root)).isDirectory();
  } catch (error) {
    throw new ValidationError(
      `[storage] Cannot save folder ${JSON.stringify(root)}: ${describeFsError(error)}`,
      { cause: error, issues: [{ path: "folder", message: "cannot be read" }] },
    );
  }
  if (!isDirectory) {
    throw new ValidationError(`[storage] Cannot save ${JSON.stringify(root)}: not a directory`, {
      issues: [{ path: "folder", message: "is not a directory" }],
    });
  }

  const entries: FolderEntry[] = [];
  const queue: Array<{ abs: string; rel: string }> = [{ abs: root, rel: "" }];
  let active = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (failure !== undefined || (queue.length === 0 && active === 0)) {
        if (active === 0) resolve();
        return;
      }
      while (queue.length > 0 && active < (options.concurrency ?? 8) && failure === undefined) {
        const dir = queue.shift()!;
        active++;
        readDirectory(dir.abs, dir.rel).then(
          () => {
            active--;
            pump();
          },
          (error: unknown) => {
            failure ??= error;
            active--;
            pump();
          },
        );
      }
    };
    pump();
  });
  if (failure !== undefined) throw failure;
  entries.sort((a, b) => comparePaths(a.path, b.path));
  return entries;

  async function readDirectory(abs: string, rel: string): Promise<void> {
    CancelledError.throwIfAborted(signal, "[storage] Save");
    let dirents: Dirent<Buffer>[];
    try {
      dirents = await readdir(abs, { withFileTypes: true, encoding: "buffer" });
    } catch (error) {
      throw new ValidationError(
        `[storage] Cannot read directory ${JSON.stringify(abs)}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
    for (const dirent of dirents) {
      let name: string;
      try {
        name = utf8.decode(dirent.name);
      } catch {
        throw new ValidationError(
          `[storage] Cannot save ${JSON.stringify(path.join(abs, dirent.name.toString("latin1")))}: its name is not valid UTF-8`,
        );
      }
      const entryRel = rel === "" ? name : `${rel}/${name}`;
      const entryAbs = path.join(abs, name);
      const problem = entryPathProblem(entryRel);
      if (problem !== undefined) {
        throw new ValidationError(`[storage] Cannot save ${JSON.stringify(entryAbs)}: ${problem}`);
      }
      if (Buffer.byteLength(entryRel) > maxPathLength) {
        throw new ValidationError(
          `[storage] Cannot save ${JSON.stringify(entryAbs)}: its relative path is longer than ${maxPathLength} bytes (maxPathLength limit)`,
        );
      }
      if (dirent.isDirectory()) {
        entries.push({ type: "directory", path: entryRel, abs: entryAbs });
        queue.push({ abs: entryAbs, rel: entryRel });
      } else if (dirent.isFile()) {
        entries.push({ type: "file", path: entryRel, abs: entryAbs });
      } else {
        throw new ValidationError(
          `[storage] Cannot save ${JSON.stringify(entryAbs)}: it is a ${kindOf(dirent)}; a checkpoint folder may hold only regular files and directories`,
        );
      }
      if (entries.length > maxEntries) {
        throw new ValidationError(
          `[storage] Cannot save ${JSON.stringify(root)}: it has more than ${maxEntries} entries (maxEntries limit)`,
        );
      }
    }
  }
}

function kindOf(dirent: Dirent<Buffer>): string {
  if (dirent.isSymbolicLink()) return "symbolic link";
  if (dirent.isSocket()) return "socket";
  if (dirent.isFIFO()) return "FIFO";
  if (dirent.isCharacterDevice()) return "character device";
  if (dirent.isBlockDevice()) return "block device";
  return "special file";
}

function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${code} (${error.message})`;
  }
  return String(error);
}
