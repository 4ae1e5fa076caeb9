import {
  CancelledError,
  type CheckpointRef,
  type CheckpointStore,
  DEFAULT_HANDLE,
  IntegrityError,
  NotFoundError,
  type TransferProgress,
  ValidationError,
} from "@trainable/core";
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "@trainable/storage";
import { type ExtractedZip, extractZip } from "./extract-zip.js";
import { listSteamshipZips } from "./list-steamship-zips.js";

export interface ImportSteamshipOptions {
  store: CheckpointStore;
  pluginInstanceId: string;
  /** A folder, or `s3://bucket/prefix?endpoint=…`, holding `{handle}.zip` files and `default.zip`. */
  source: string;
  /** Resolves a relative folder. Default: the process's working directory. */
  cwd?: string;
  /** Limits applied to each zip. Default: the checkpoint store's (`DEFAULT_EXTRACT_LIMITS`). */
  limits?: Partial<ExtractLimits>;
  /** Where S3 zips are downloaded to. Default: the OS temp dir. */
  tmpDir?: string;
  onProgress?: (progress: TransferProgress) => void;
  /** A line per step ("v1.zip → v1"). */
  onMessage?: (text: string) => void;
  signal?: AbortSignal;
}

interface ImportedHandle {
  handle: string;
  zip: string;
  digest: string;
  /** sha256 of the zip's bytes. */
  zipSha256: string;
  /** For `default`: the handle whose checkpoint it now names (same digest, same blob). */
  sameAs?: string;
  uploadedBytes: number;
}

export interface ImportSteamshipResult {
  source: string;
  imported: ImportedHandle[];
  /** Folder entries or keys that are not `*.zip` files, left alone. */
  skipped: string[];
}

/** Every directory the extracted folder holds: the zip's directory entries and every parent. */
function directoriesOf(extracted: ExtractedZip): Set<string> {
  const dirs = new Set(extracted.directories);
  for (const path of [...extracted.directories, ...extracted.files.map((f) => f.path)]) {
    for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
      dirs.add(path.slice(0, i));
    }
  }
  return dirs;
}

/** The stored checkpoint must hold exactly what was extracted from the zip. */
async function verifyImport(
  store: CheckpointStore,
  options: { pluginInstanceId: string; ref: CheckpointRef; zip: string; extracted: ExtractedZip },
): Promise<void> {
  const { pluginInstanceId, ref, zip, extracted } = options;
  const manifest = await store.readManifest({ pluginInstanceId, ref });
  const stored = new Map(manifest.files.map((f) => [f.path, f]));
  const mismatch = (what: string) =>
    new IntegrityError(
      `[cli] The checkpoint stored for ${ref.handle} does not match ${zip}: ${what}`,
    );
  if (stored.size !== extracted.files.length) {
    throw mismatch(`${stored.size} files stored, ${extracted.files.length} in the zip`);
  }
  for (const file of extracted.files) {
    const twin = stored.get(file.path);
    if (twin?.size !== file.size || twin.sha256 !== file.sha256) {
      throw mismatch(`file ${JSON.stringify(file.path)} differs`);
    }
  }
  const dirs = directoriesOf(extracted);
  if (manifest.directories.length !== dirs.size || manifest.directories.some((d) => !dirs.has(d))) {
    throw mismatch("the folders differ");
  }
}

/**
 * Imports the original's checkpoint layout — `{handle}.zip` per handle plus `default.zip`, each
 * a `shutil.make_archive` zip of the model folder — into a checkpoint store. Each zip is
 * checked and extracted (`extractZip`) into a temporary folder the store saves and then
 * removes, and the stored manifest is compared with what was extracted. `default.zip` whose
 * bytes equal a handle's zip only points `default` at that handle's checkpoint (the original
 * uploaded the same zip twice); otherwise it is imported as a checkpoint of its own (one that
 * equals another's content still shares its blob: the store keeps one copy).
 *
 * All or nothing: when a zip is refused, a save fails or `signal` is aborted (Ctrl-C), the
 * handles this import already wrote are put back (or deleted when they did not exist), so no
 * ref names what was imported; archives already uploaded are left for `checkpoints prune` /
 * `gc` to collect. An aborted import stops at the next step (before each zip, within a
 * download, extraction or save, and before it answers) and rejects with a `CancelledError`
 * saying what it undid; its temporary folders go with it.
 */
export async function importSteamship(
  options: ImportSteamshipOptions,
): Promise<ImportSteamshipResult> {
  const { store, pluginInstanceId, signal } = options;
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...options.limits };
  const say = options.onMessage ?? (() => {});
  const layout = await listSteamshipZips(options.source, options.cwd ?? process.cwd());
  const written: Written[] = [];
  const previousOf = async (handle: string) => {
    try {
      return await store.resolve({ pluginInstanceId, handle, signal });
    } catch (error) {
      if (NotFoundError.isInstance(error)) return undefined;
      throw error;
    }
  };
  try {
    const zips = [
      ...layout.zips.filter((z) => z.handle !== DEFAULT_HANDLE),
      ...layout.zips.filter((z) => z.handle === DEFAULT_HANDLE),
    ];
    if (zips.length === 0) {
      throw ValidationError.forField(
        "cli",
        "<source>",
        `no {handle}.zip files in ${options.source}`,
      );
    }
    const imported: ImportedHandle[] = [];
    for (const zip of zips) {
      CancelledError.throwIfAborted(signal, "[cli] Import");
      const local = await zip.open({
        tmpDir: options.tmpDir,
        onProgress: options.onProgress,
        signal,
      });
      try {
        const previous = await previousOf(zip.handle);
        const twin = imported.find((i) => i.zipSha256 === local.sha256);
        if (zip.handle === DEFAULT_HANDLE && twin) {
          say(`${zip.name} is a copy of ${twin.zip}: default → ${twin.handle}`);
          const ref = await store.resolve({ pluginInstanceId, handle: twin.handle, signal });
          // Recorded before the call: it can reject (Ctrl-C) after the ref was written.
          written.push({ handle: zip.handle, previous, digest: ref.digest });
          await store.setHandle({ pluginInstanceId, handle: DEFAULT_HANDLE, ref, signal });
          imported.push({
            handle: DEFAULT_HANDLE,
            zip: zip.name,
            digest: ref.digest,
            zipSha256: local.sha256,
            sameAs: twin.handle,
            uploadedBytes: 0,
          });
          continue;
        }
        say(`${zip.name} → ${zip.handle}`);
        let extracted: ExtractedZip | undefined;
        // Recorded before the save: it can reject (Ctrl-C) after the ref was written, and the
        // undo only puts back what actually moved.
        const entry: Written = { handle: zip.handle, previous };
        written.push(entry);
        const { ref, uploadedBytes } = await store.save({
          pluginInstanceId,
          handle: zip.handle,
          setAsDefault: false,
          metadata: {
            importedFrom: "steamship",
            sourceZip: zip.name,
            sourceZipSha256: local.sha256,
          },
          write: async (dir) => {
            extracted = await extractZip({
              zipPath: local.path,
              zipName: zip.name,
              target: dir,
              limits,
              onProgress: options.onProgress,
              signal,
            });
          },
          signal,
        });
        entry.digest = ref.digest;
        await verifyImport(store, {
          pluginInstanceId,
          ref,
          zip: zip.name,
          extracted: extracted as ExtractedZip,
        });
        const sameContent = imported.find((i) => i.digest === ref.digest);
        imported.push({
          handle: zip.handle,
          zip: zip.name,
          digest: ref.digest,
          zipSha256: local.sha256,
          ...(sameContent ? { sameAs: sameContent.handle } : {}),
          uploadedBytes,
        });
      } finally {
        await local.dispose();
      }
    }
    // Ctrl-C during the last step still means "stop": nothing is kept.
    CancelledError.throwIfAborted(signal, "[cli] Import");
    return { source: options.source, imported, skipped: layout.skipped };
  } catch (error) {
    const undone = await undo(store, { pluginInstanceId, written });
    if (signal?.aborted) throw interrupted(pluginInstanceId, undone, error);
    if (undone.failed.length > 0 && error instanceof Error) error.message += notPutBack(undone);
    throw error;
  } finally {
    await layout.close();
  }
}

/** A handle the import is writing or wrote. */
interface Written {
  handle: string;
  /** What it named before the import (absent: it did not exist). */
  previous?: CheckpointRef;
  /** The digest the import pointed it at, once known (unknown when the write was cut short). */
  digest?: string;
}

interface Undone {
  /** Handles pointed back at the checkpoint they named before the import. */
  restored: string[];
  /** Handles the import had created, deleted. */
  deleted: string[];
  /** Handles that could not be put back (the store failed). */
  failed: string[];
}

const notPutBack = (undone: Undone) =>
  ` (could not put back handle(s) ${undone.failed.join(", ")}: check them with "trainable checkpoints list")`;

/** The error of an import stopped through its signal: what it had written and undid. */
function interrupted(pluginInstanceId: string, undone: Undone, cause: unknown): CancelledError {
  const parts = [
    ...(undone.restored.length
      ? [`put back to their previous checkpoint: ${undone.restored.join(", ")}`]
      : []),
    ...(undone.deleted.length ? [`imported, then removed: ${undone.deleted.join(", ")}`] : []),
  ];
  const kept =
    undone.failed.length > 0
      ? `handle(s) ${undone.failed.join(", ")} of ${pluginInstanceId} could not be put back: check them with "trainable checkpoints list"`
      : `nothing imported into ${pluginInstanceId}`;
  return new CancelledError(
    `[cli] Import interrupted (Ctrl-C): ${kept}${parts.length ? ` (${parts.join("; ")}; archives already uploaded are left for "trainable checkpoints prune" to collect)` : ""}`,
    { cause },
  );
}

/** The digest `handle` names now, `null` when it does not exist. */
async function currentDigest(
  store: CheckpointStore,
  pluginInstanceId: string,
  handle: string,
): Promise<string | null> {
  try {
    return (await store.resolve({ pluginInstanceId, handle })).digest;
  } catch (error) {
    if (NotFoundError.isInstance(error)) return null;
    throw error;
  }
}

/**
 * Puts back each handle this import wrote or was writing (newest first), or deletes it if it
 * was new. A handle still as it was before (its write never landed) is left alone; one that
 * names neither what it named before nor what the import wrote was moved by someone else and
 * is not touched (reported as not put back). Restoring or deleting is a compare-and-swap on
 * the digest it names now, so a concurrent move is never overwritten.
 */
async function undo(
  store: CheckpointStore,
  options: { pluginInstanceId: string; written: Written[] },
): Promise<Undone> {
  const { pluginInstanceId, written } = options;
  const undone: Undone = { restored: [], deleted: [], failed: [] };
  for (const { handle, previous, digest } of [...written].reverse()) {
    try {
      const current = await currentDigest(store, pluginInstanceId, handle);
      if (current === (previous?.digest ?? null)) continue; // never moved
      if (current === null || (digest !== undefined && current !== digest)) {
        undone.failed.push(handle); // moved by someone else meanwhile
        continue;
      }
      if (previous) {
        await store.setHandle({ pluginInstanceId, handle, ref: previous, expectedDigest: current });
        undone.restored.push(handle);
      } else {
        await store.delete({ pluginInstanceId, handle, expectedDigest: current });
        undone.deleted.push(handle);
      }
    } catch {
      undone.failed.push(handle);
    }
  }
  return undone;
}
