import { randomBytes } from "node:crypto";
import { readdir, realpath, rename, rm } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { type CheckpointRef, type CheckpointStore, ValidationError } from "@trainable/core";

export interface PullIntoFolderOptions {
  pluginInstanceId: string;
  handle: string;
  /** The folder: created when missing; an existing one must be empty unless `force`. */
  target: string;
  /** Replace the contents of a non-empty folder. */
  force?: boolean;
  /** The flag or argument the folder came from, for messages. */
  flag: string;
  /** Folders that must survive (the store, the data dir): a target holding one is refused. */
  keep?: readonly { path: string; what: string }[];
  /** The working directory: a target holding it is refused (it would be moved away). */
  cwd?: string;
}

/** A path with symbolic links resolved as far as it exists. */
async function real(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await real(parent), basename(absolute));
  }
}

/** Whether `path` is `folder` or inside it (both resolved). */
async function isWithin(path: string, folder: string): Promise<boolean> {
  const rel = relative(await real(folder), await real(path));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The first of `keep` that `folder` is or holds, with how it was named: what packing or
 * replacing `folder` would take along.
 */
export async function heldBy(
  folder: string,
  keep: readonly { path: string; what: string }[],
): Promise<{ path: string; what: string } | undefined> {
  for (const kept of keep) if (await isWithin(kept.path, folder)) return kept;
  return undefined;
}

/**
 * Fetches (downloads and verifies) a checkpoint into a folder. The store only extracts into a
 * folder that does not exist yet, so an existing folder is replaced: the checkpoint is fetched
 * beside it, then swapped in by two renames, and the old folder removed. A failed fetch
 * leaves the folder as it was.
 */
export async function pullIntoFolder(
  store: CheckpointStore,
  options: PullIntoFolderOptions,
): Promise<CheckpointRef> {
  const { pluginInstanceId, handle, target, flag } = options;
  let existing: string[] | undefined;
  try {
    existing = await readdir(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw ValidationError.forField("cli", flag, `${target} is a file`);
    if (code !== "ENOENT") throw error;
  }
  if (existing === undefined) return store.fetch({ pluginInstanceId, handle, target });
  // Replacing the folder moves it away and deletes it: never with the CLI's own state inside,
  // nor from inside it.
  const held = await heldBy(target, options.keep ?? []);
  if (held) {
    throw ValidationError.forField(
      "cli",
      flag,
      `${target} holds ${held.what} at ${held.path}: pulling into it would replace it; pull into another folder`,
    );
  }
  if (options.cwd !== undefined && (await isWithin(options.cwd, target))) {
    throw ValidationError.forField(
      "cli",
      flag,
      `${target} holds the current directory: pulling into it would move the directory away; run the command from outside it`,
    );
  }
  if (existing.length > 0 && !options.force) {
    throw ValidationError.forField(
      "cli",
      flag,
      `${target} is not empty (add --force to replace its contents)`,
    );
  }
  const staging = join(
    dirname(target),
    `.${basename(target)}.pull-${randomBytes(6).toString("hex")}`,
  );
  const ref = await store.fetch({ pluginInstanceId, handle, target: staging });
  const old = `${staging}.old`;
  try {
    await rename(target, old);
    try {
      await rename(staging, target);
    } catch (error) {
      await rename(old, target);
      throw error;
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  await rm(old, { recursive: true, force: true });
  return ref;
}
