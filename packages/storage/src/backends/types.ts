import type { Readable } from "node:stream";

/** What a backend can do beyond plain put/get; the checkpoint store picks its strategy from these. */
export interface BackendCapabilities {
  /** `put(..., { ifNoneMatch: "*" })` fails atomically with `PreconditionFailed` when the key exists. */
  createOnly: boolean;
  /**
   * The largest body a conditional put (`ifNoneMatch`, `ifMatch`) accepts; a larger one is
   * refused with a `ValidationError`, never emulated. Absent: any size.
   */
  conditionalMaxBytes?: number;
  /** `put(..., { ifMatch: etag })` replaces atomically only when the current ETag matches. */
  compareAndSwap: boolean;
  /** `get(..., { range })` returns only the requested bytes. */
  rangeReads: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** An opaque version tag (normalized: no quotes). */
  etag: string;
  lastModified?: Date;
}

export interface PutOptions {
  /** `"*"`: only create; fail with a `PreconditionFailedError` when the key exists. */
  ifNoneMatch?: "*";
  /** Only replace when the current ETag equals this one (needs `compareAndSwap`). */
  ifMatch?: string;
  /** Size in bytes when known (lets backends choose single PUT vs multipart). */
  contentLength?: number;
  contentType?: string;
  signal?: AbortSignal;
  /** Called as bytes are sent. */
  onProgress?: (sentBytes: number) => void;
}

export interface GetOptions {
  /** Inclusive byte range. */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
}

export interface ListOptions {
  /** Stop after this many keys (names, for `listPrefixes`) (lets a backend ask for less; a hint, never more are returned). */
  limit?: number;
  signal?: AbortSignal;
}

/**
 * The small interface every storage backend implements (file, s3, memory). Keys are
 * `/`-separated relative paths made by the checkpoint store; backends never see user input raw.
 *
 * Errors: a missing key is a `NotFoundError`; a failed precondition a `PreconditionFailedError`;
 * transport failures a `RemoteError` (with `retryable`).
 */
export interface RemoteBackend {
  /** Driver name: "file", "s3", "memory". */
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  /** A URL-ish description without credentials, for messages. */
  readonly description: string;
  /** Stores `body` under `key`. Bodies are streamed, never buffered whole. Returns the new object's info. */
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<ObjectInfo>;
  /** Streams an object. */
  get(key: string, options?: GetOptions): Promise<{ body: Readable; info: ObjectInfo }>;
  /** Object info, or `undefined` when absent. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo | undefined>;
  /** Every key under `prefix` (recursive), in lexicographic order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /**
   * The distinct names of the "folders" directly under `prefix` (`""` or ending in `/`): each
   * `name` such that at least one key starts with `{prefix}{name}/`, once, streamed, in the
   * order their keys list (that of `{name}/`: `a-b` comes before `a`, as `a-b/…` lists before
   * `a/…`). Keys directly under `prefix` are not folders. `limit` caps the names.
   * Optional in this interface; every backend made with `defineBackend` has it (a driver
   * without its own gets one that walks `list`).
   */
  listPrefixes?(prefix: string, options?: ListOptions): AsyncIterable<string>;
  /** Deletes a key; deleting a missing key is not an error. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Removes leftovers of interrupted writes under `prefix` (a folder prefix ending in `/`):
   * temp files of a process that was killed mid-upload. Never touches a write in progress.
   * Leftovers whose writer cannot be checked are removed once older than `olderThanMs`
   * (at least an hour). Optional: backends without such leftovers omit it.
   */
  sweep?(
    prefix: string,
    options?: { olderThanMs?: number; signal?: AbortSignal },
  ): Promise<{ removed: number; bytes: number }>;
  /** Releases clients and sockets. */
  close?(): Promise<void>;
}
