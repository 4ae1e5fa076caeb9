import { randomBytes } from "node:crypto";
import { copyFile, lstat, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type CheckpointRef,
  type CheckpointStore,
  DEFAULT_HANDLE,
  NotFoundError,
  TrainableError,
  ValidationError,
} from "@trainable/core";
import { makeArchiveLayout, writeZip } from "./write-zip.js";

export interface ExportSteamshipOptions {
  store: CheckpointStore & {
    list(options: { pluginInstanceId: string; signal?: AbortSignal }): Promise<CheckpointRef[]>;
  };
  pluginInstanceId: string;
  /** The folder to write `{handle}.zip` and `default.zip` into (created when missing). */
  dir: string;
  /** The handles to export (default: every handle, `default` included); list `default` to get `default.zip`. */
  handles?: string[];
  /** Replace zips that exist already. */
  force?: boolean;
  onMessage?: (text: string) => void;
  signal?: AbortSignal;
}

export interface ExportedZip {
  file: string;
  handle: string;
  digest: string;
  bytes: number;
  /** For `default.zip`: the zip it is a byte-for-byte copy of. */
  copyOf?: string;
}

/**
 * Checks that Python's `shutil.unpack_archive`, which the original loads checkpoints with,
 * will extract every entry: it silently skips any name that contains `..` anywhere.
 */
function unpackableProblem(ref: CheckpointRef, names: string[]): TrainableError | undefined {
  const skipped = names.find((name) => name.includes(".."));
  if (skipped === undefined) return undefined;
  return new TrainableError(
    "NOT_SUPPORTED",
    `[cli] Cannot export ${ref.handle} for Steamship: Python's shutil.unpack_archive skips ${JSON.stringify(skipped)} (a name containing "..") without a word, so the original would load the checkpoint incomplete; rename it`,
  );
}

/**
 * Writes checkpoints in the original's layout: `{handle}.zip` per handle and `default.zip`,
 * each laid out as `shutil.make_archive(base, "zip", folder)` lays out a model folder (see
 * `makeArchiveLayout`), so `load_remote` of the original unpacks them. Each checkpoint is
 * fetched and verified into a temporary folder, zipped from there, and the zip renamed into
 * place when complete. `default.zip` is a copy of the handle zip of the same checkpoint,
 * as the original uploaded one zip twice.
 */
export async function exportSteamship(options: ExportSteamshipOptions): Promise<ExportedZip[]> {
  const { store, pluginInstanceId, dir, signal } = options;
  const say = options.onMessage ?? (() => {});
  let refs: CheckpointRef[];
  if (options.handles?.length) {
    refs = [];
    for (const handle of new Set(options.handles)) {
      refs.push(await store.resolve({ pluginInstanceId, handle, signal }));
    }
  } else {
    refs = await store.list({ pluginInstanceId, signal });
    if (refs.length === 0) {
      throw new NotFoundError(`[cli] No checkpoints of instance "${pluginInstanceId}" to export`);
    }
  }
  // `default` last, so it can copy the zip of a handle with the same checkpoint.
  refs.sort((a, b) => Number(a.handle === DEFAULT_HANDLE) - Number(b.handle === DEFAULT_HANDLE));
  await mkdir(dir, { recursive: true });
  if (!options.force) {
    for (const ref of refs) {
      const file = join(dir, `${ref.handle}.zip`);
      // lstat: a link (even a dangling one) at the name is something already there.
      if (await lstat(file).catch(() => undefined)) {
        throw ValidationError.forField(
          "cli",
          "<dir>",
          `${file} exists (add --force to replace it)`,
        );
      }
    }
  }
  const exported: ExportedZip[] = [];
  for (const ref of refs) {
    const file = `${ref.handle}.zip`;
    const target = join(dir, file);
    const partial = join(dir, `.${file}.${randomBytes(6).toString("hex")}.partial`);
    const twin = exported.find((e) => e.digest === ref.digest);
    try {
      if (twin) {
        say(`${ref.handle} → ${file} (a copy of ${twin.file})`);
        await copyFile(join(dir, twin.file), partial);
      } else {
        say(`${ref.handle} → ${file}`);
        const { files, directories } = await store.readManifest({ pluginInstanceId, ref, signal });
        const layout = makeArchiveLayout(
          files.map((f) => f.path),
          directories,
        );
        const problem = unpackableProblem(
          ref,
          layout.map((e) => e.name),
        );
        if (problem) throw problem;
        await store.withCheckpoint({
          pluginInstanceId,
          ref,
          signal,
          use: (folder) =>
            writeZip({ folder, layout, target: partial, mtime: new Date(ref.createdAt) }),
        });
      }
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const { size } = await stat(target);
    exported.push({
      file,
      handle: ref.handle,
      digest: ref.digest,
      bytes: size,
      ...(twin ? { copyOf: twin.file } : {}),
    });
  }
  return exported;
}
