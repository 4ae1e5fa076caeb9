import { resolve } from "node:path";
import {
  checkCheckpointStore,
  checkOptionsObject,
  defaultCacheDir,
  ValidationError,
} from "@trainable/core";
import type { VerifyLevel } from "../disk/verify-entry.js";
import type { CacheLogger } from "./cache-logger.js";
import type { CreateModelCacheOptions } from "./create-model-cache-options.js";

const DEFAULT_MAX_ENTRIES = 16;
const DEFAULT_REVALIDATE_MS = 5000;
const DEFAULT_STALE_WHILE_REVALIDATE_MS = 60_000;
const DEFAULT_STALE_IF_ERROR_MS = Number.POSITIVE_INFINITY;
const DEFAULT_DISPOSE_UNLEASED_AFTER_MS = Number.POSITIVE_INFINITY;
const DEFAULT_DISK_MAX_BYTES = 20 * 1024 ** 3;
const DEFAULT_LOCK_STALE_MS = 30_000;
const DEFAULT_POLL_MS = 500;

export interface ResolvedOptions {
  store: CreateModelCacheOptions["store"];
  maxEntries: number;
  maxBytes: number | undefined;
  revalidateMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  disposeUnleasedAfterMs: number;
  diskDir: string | undefined;
  diskMaxBytes: number;
  offline: boolean;
  verify: VerifyLevel;
  lockStaleMs: number;
  pollMs: number;
  now: () => number;
  logger: CacheLogger;
}

function bad(field: string, problem: string): ValidationError {
  return ValidationError.forField("cache", field, problem);
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw bad(field, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonNegative(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw bad(field, `must be a number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks every option (naming the bad field) and fills in the defaults. */
export function resolveOptions(options: CreateModelCacheOptions): ResolvedOptions {
  const site = { component: "cache", call: "createModelCache" };
  checkOptionsObject(options, { ...site, expected: "({ store, … })" });
  // The un-awaited createCheckpointStore(…) promise is the likely mistake here.
  checkCheckpointStore(options.store, { ...site, uses: ["resolve", "fetch", "workspace"] });
  const maxEntries = positiveInteger(options.maxEntries, "maxEntries", DEFAULT_MAX_ENTRIES);
  const maxBytes =
    options.maxBytes === undefined ? undefined : positiveInteger(options.maxBytes, "maxBytes", 0);
  const revalidateMs = nonNegative(options.revalidateMs, "revalidateMs", DEFAULT_REVALIDATE_MS);
  // Asking on every call (revalidateMs 0) means waiting for every answer unless told otherwise.
  const staleWhileRevalidateMs = nonNegative(
    options.staleWhileRevalidateMs,
    "staleWhileRevalidateMs",
    revalidateMs === 0 ? 0 : DEFAULT_STALE_WHILE_REVALIDATE_MS,
  );
  const staleIfErrorMs = nonNegative(
    options.staleIfErrorMs,
    "staleIfErrorMs",
    DEFAULT_STALE_IF_ERROR_MS,
  );
  const disposeUnleasedAfterMs = nonNegative(
    options.disposeUnleasedAfterMs,
    "disposeUnleasedAfterMs",
    DEFAULT_DISPOSE_UNLEASED_AFTER_MS,
  );
  let diskDir: string | undefined;
  if (options.diskDir === false) diskDir = undefined;
  else if (options.diskDir === undefined) diskDir = defaultCacheDir();
  else if (typeof options.diskDir === "string" && options.diskDir.length > 0)
    diskDir = resolve(options.diskDir);
  else throw bad("diskDir", "must be a folder path or false");
  const diskMaxBytes = nonNegative(options.diskMaxBytes, "diskMaxBytes", DEFAULT_DISK_MAX_BYTES);
  if (options.offline !== undefined && typeof options.offline !== "boolean") {
    throw bad("offline", "must be a boolean");
  }
  const offline = options.offline ?? false;
  if (offline && diskDir === undefined) {
    throw bad(
      "offline",
      "offline mode serves models from the disk cache: diskDir must not be false",
    );
  }
  const verify = options.verify ?? "stat";
  if (verify !== "stat" && verify !== "full" && verify !== "size") {
    throw bad("verify", `must be "stat", "size" or "full", got ${JSON.stringify(verify)}`);
  }
  const lockStaleMs = positiveInteger(options.lockStaleMs, "lockStaleMs", DEFAULT_LOCK_STALE_MS);
  const pollMs = positiveInteger(options.pollMs, "pollMs", DEFAULT_POLL_MS);
  if (options.now !== undefined && typeof options.now !== "function") {
    throw bad("now", "must be a function returning milliseconds");
  }
  if (
    options.logger !== undefined &&
    (options.logger === null || typeof options.logger !== "object")
  ) {
    throw bad("logger", "must be an object with optional debug/info/warn/error methods");
  }
  return {
    store: options.store,
    maxEntries,
    maxBytes,
    revalidateMs,
    staleWhileRevalidateMs,
    staleIfErrorMs,
    disposeUnleasedAfterMs,
    diskDir,
    diskMaxBytes,
    offline,
    verify,
    lockStaleMs,
    pollMs,
    now: options.now ?? Date.now,
    logger: options.logger ?? { warn: (message) => console.warn(message) },
  };
}
