import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkOptionsObject,
  defaultCacheDir,
  describeValue,
  isPromiseLike,
  ValidationError,
  validateId,
} from "@trainable/core";
import { type Compression, DEFAULT_COMPRESSION } from "../archive/default-compression.js";
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "../archive/default-extract-limits.js";
import type { RemoteBackend } from "../backends/types.js";
import { DEFAULT_PIN_TTL_MS } from "./blob-registry.js";
import type { StoreContext } from "./store-context.js";

export interface CreateCheckpointStoreOptions {
  /** A backend instance… */
  backend?: RemoteBackend;
  /** …or a URL: `file:///abs/dir`, `s3://bucket/prefix?endpoint=…`, `memory://`. */
  url?: string;
  /** The workspace every checkpoint of this store belongs to. */
  workspace: string;
  /** Archive compression for new saves. Default `none` (see docs/architecture.md). */
  compression?: Compression;
  /** gzip level 1-9 when `compression` is `gzip`. Default 1. */
  gzipLevel?: number;
  /**
   * Where temporary folders go (`trainable-{save|load}-{host}-{pid}-…`). Default: the OS temp
   * dir. A process killed mid-save leaves its folder; the next store of any process on this
   * machine removes the folders of processes that are gone.
   */
  tmpDir?: string;
  /**
   * Limits on a checkpoint (entries, bytes of file data, path length), enforced the same way
   * on save and on load: what saves can be loaded. Defaults: 1,000,000 entries, 64 GiB,
   * 4096-byte paths.
   */
  limits?: Partial<ExtractLimits>;
  /** Ref versions kept readable per handle (`history()`, rollback). Default 10. */
  refHistory?: number;
  /**
   * Where the hashes of saved folders are remembered, so an unchanged re-save reads no file
   * (`false`: never). Default `<cache dir>/fingerprints` (`TRAINABLE_CACHE_DIR`, else
   * `$XDG_CACHE_HOME/trainable`, else `~/.cache/trainable`).
   */
  fingerprintCache?: string | false;
  /**
   * Flush extracted files to disk before a loaded folder appears (default `true`); a crash
   * then never leaves a complete-looking folder with missing data.
   */
  durable?: boolean;
  /** How long a pin (a save about to reference a blob) protects it without a refresh. Default one hour. */
  pinTtlMs?: number;
  /** Recorded in ref metadata. */
  packageVersion?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Replaced by the build (tsup `define`) with the version in package.json. */
declare const __TRAINABLE_STORAGE_VERSION__: string | undefined;

/** This package's version (recorded in saved checkpoints' metadata), from its package.json. */
const STORE_VERSION: string =
  typeof __TRAINABLE_STORAGE_VERSION__ === "string" ? __TRAINABLE_STORAGE_VERSION__ : "0.0.0-dev";

/** The settings of a store, checked: everything of its context but the backend and the marker state. */
export type StoreSettings = Omit<
  StoreContext,
  "backend" | "fingerprints" | "ensureFormatMarker"
> & {
  /** Where fingerprints are remembered, or `undefined` for never. */
  fingerprintDir: string | undefined;
};

/**
 * Checks `createCheckpointStore`'s options before any I/O (each bad one is a
 * `ValidationError` naming it) and fills in the defaults.
 */
export function resolveStoreOptions(options: CreateCheckpointStoreOptions): StoreSettings {
  if (typeof options === "string") {
    throw ValidationError.forField(
      "storage",
      "options",
      `createCheckpointStore takes an options object, not a URL: createCheckpointStore({ url: ${JSON.stringify((options as string).slice(0, 80))}, workspace })`,
    );
  }
  checkOptionsObject(options, {
    component: "storage",
    call: "createCheckpointStore",
    expected: "({ url, workspace })",
  });
  if (isPromiseLike(options.backend)) {
    throw ValidationError.forField(
      "storage",
      "backend",
      "backend is a Promise: did you forget await? (backend = await createFileBackend(…))",
    );
  }
  if (options.url !== undefined && typeof options.url !== "string") {
    throw ValidationError.forField(
      "storage",
      "url",
      `expected a URL string (file:///abs/dir, s3://bucket/prefix, memory://), got ${describeValue(options.url)}`,
    );
  }
  const workspace = validateId(options.workspace, "workspace");
  if ((options.backend ? 1 : 0) + (options.url ? 1 : 0) !== 1) {
    throw ValidationError.forField("storage", "backend", 'pass exactly one of "backend" or "url"');
  }
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  if (compression !== "none" && compression !== "gzip") {
    throw ValidationError.forField(
      "storage",
      "compression",
      `must be "none" or "gzip", got ${JSON.stringify(compression)}`,
    );
  }
  const gzipLevel = options.gzipLevel ?? 1;
  if (!Number.isInteger(gzipLevel) || gzipLevel < 1 || gzipLevel > 9) {
    throw ValidationError.forField("storage", "gzipLevel", "must be an integer from 1 to 9");
  }
  const refHistory = positiveInteger(options.refHistory ?? 10, "refHistory");
  const pinTtlMs = positiveInteger(options.pinTtlMs ?? DEFAULT_PIN_TTL_MS, "pinTtlMs");
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...options.limits };
  for (const field of ["maxTotalBytes", "maxEntries", "maxPathLength"] as const) {
    positiveInteger(limits[field], `limits.${field}`);
  }
  if (options.fingerprintCache !== undefined && options.fingerprintCache !== false) {
    if (typeof options.fingerprintCache !== "string" || options.fingerprintCache === "") {
      throw ValidationError.forField(
        "storage",
        "fingerprintCache",
        "must be a folder path or false",
      );
    }
  }
  return {
    workspace,
    compression,
    gzipLevel,
    limits,
    refHistory,
    pinTtlMs,
    tmpRoot: options.tmpDir ?? tmpdir(),
    durable: options.durable ?? true,
    packageVersion: options.packageVersion ?? STORE_VERSION,
    fingerprintDir:
      options.fingerprintCache === false
        ? undefined
        : (options.fingerprintCache ?? join(defaultCacheDir(), "fingerprints")),
    now: options.now ?? (() => new Date()),
  };
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw ValidationError.forField("storage", field, "must be an integer >= 1");
  }
  return value;
}
