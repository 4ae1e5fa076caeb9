import { randomBytes } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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
