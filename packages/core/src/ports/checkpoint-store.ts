import type { CheckpointManifest, CheckpointMetadata, CheckpointRef } from "./checkpoint-ref.js";

/** Progress of a transfer, in bytes. `total` is unknown while packing. */
export interface TransferProgress {
  phase: "pack" | "upload" | "download" | "extract";
  bytes: number;
  total?: number;
}

export interface SaveCheckpointOptions {
  pluginInstanceId: string;
  /** The handle to save to, e.g. `v1`, `epoch_23` or `default`. */
  handle: string;
  /** A folder holding the checkpoint… */
  folder?: string;
  /** …or a writer the store calls with a fresh temporary folder to fill (then removed). */
  write?: (dir: string) => Promise<void>;
  /** Also point `default` at this checkpoint (one more ref, never another copy). */
  setAsDefault?: boolean;
  metadata?: CheckpointMetadata;
  /**
   * Compare-and-swap: the digest `handle` must point at now (`null`: must not exist).
   * When it has moved, the save throws `ConflictError` and no ref changes.
   */
  expectedDigest?: string | null;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
}

export interface SaveCheckpointResult {
  ref: CheckpointRef;
  /** The `default` ref, when `setAsDefault` was set. */
  defaultRef?: CheckpointRef;
  /**
   * Archive bytes sent to the backend: 0 when the folder was known to be unchanged and an
   * identical checkpoint was already stored.
   */
  uploadedBytes: number;
}

export interface CheckpointLocator {
  pluginInstanceId: string;
  /** Defaults to `default`. */
  handle?: string;
  /** A ref already resolved (skips the ref read). */
  ref?: CheckpointRef;
  signal?: AbortSignal;
}

export interface FetchCheckpointOptions extends CheckpointLocator {
  /** Folder to extract into. It must not exist; it appears only once complete and verified. */
  target: string;
  onProgress?: (progress: TransferProgress) => void;
}

export interface WithCheckpointOptions<T> extends CheckpointLocator {
  /** Called with a temporary folder holding the verified checkpoint, removed afterwards. */
  use: (dir: string, ref: CheckpointRef) => Promise<T>;
  onProgress?: (progress: TransferProgress) => void;
}

export interface SetHandleOptions {
  pluginInstanceId: string;
  /** The handle to point (e.g. `default`). */
  handle: string;
  /** The checkpoint to point it at: another handle's ref. */
  ref: CheckpointRef;
  expectedDigest?: string | null;
  signal?: AbortSignal;
}

/**
 * The storage port: saves checkpoint folders under a workspace and plugin instance and gets
 * them back. Implemented by `@trainable/storage`'s `createCheckpointStore`.
 */
export interface CheckpointStore {
  readonly workspace: string;
  save(options: SaveCheckpointOptions): Promise<SaveCheckpointResult>;
  /** Reads a handle's ref. Throws `NotFoundError` naming scope and handle when absent. */
  resolve(options: CheckpointLocator): Promise<CheckpointRef>;
  /** Downloads, verifies and extracts a checkpoint into `target`. */
  fetch(options: FetchCheckpointOptions): Promise<CheckpointRef>;
  /** Reads and verifies a checkpoint's manifest (its files and directories). */
  readManifest(options: CheckpointLocator): Promise<CheckpointManifest>;
  /** Fetches into a temporary folder, calls `use`, then removes the folder. */
  withCheckpoint<T>(options: WithCheckpointOptions<T>): Promise<T>;
  /** Points a handle at an existing checkpoint (writes a ref only). */
  setHandle(options: SetHandleOptions): Promise<CheckpointRef>;
  list(options: { pluginInstanceId: string; signal?: AbortSignal }): Promise<CheckpointRef[]>;
  delete(options: {
    pluginInstanceId: string;
    handle: string;
    /** Compare-and-swap: the digest `handle` must point at now, else a `ConflictError` and no change. */
    expectedDigest?: string;
    signal?: AbortSignal;
  }): Promise<void>;
}
