import {
  CHECKPOINT_FORMAT_VERSION,
  type Id,
  IntegrityError,
  NotFoundError,
  validateId,
} from "@trainable/core";
import type { ArchiveCompression } from "../archive/default-compression.js";
import type { ExtractLimits } from "../archive/default-extract-limits.js";
import { putCreateOnly } from "../backends/put-create-only.js";
import type { RemoteBackend } from "../backends/types.js";
import { readSmallObject } from "../util/read-small-object.js";
import type { FingerprintCache } from "./fingerprint-cache.js";
import { FORMAT_MARKER_KEY, type Scope } from "./keys.js";

/** What every operation of one store shares. */
export interface StoreContext {
  backend: RemoteBackend;
  workspace: Id;
  compression: ArchiveCompression;
  gzipLevel: number;
  limits: ExtractLimits;
  refHistory: number;
  pinTtlMs: number;
  tmpRoot: string;
  durable: boolean;
  packageVersion: string;
  fingerprints: FingerprintCache | undefined;
  now: () => Date;
  /** Writes the format marker once, before the first write of this store object. */
  ensureFormatMarker(signal?: AbortSignal): Promise<void>;
}

/** The scope of a store call: `pluginInstanceId` checked here, where it comes in. */
export function scopeOf(ctx: { workspace: Id }, pluginInstanceId: unknown): Scope {
  return {
    workspace: ctx.workspace,
    pluginInstanceId: validateId(pluginInstanceId, "pluginInstanceId"),
  };
}

export function describeHandle(scope: Scope, handle: string): string {
  return `handle "${handle}" of ${scope.workspace}/${scope.pluginInstanceId}`;
}

const MARKER = { format: "trainable-checkpoint-store", formatVersion: CHECKPOINT_FORMAT_VERSION };

/**
 * Checks the store's format marker (`_trainable-store.json` at its root). A store with
 * another version, or with checkpoints of this workspace but no marker (a store written before
 * format version 2), is refused with an error naming both versions, before anything is read
 * or written. An empty store is fine; its marker is written by the first write.
 */
export async function checkFormat(
  backend: RemoteBackend,
  signal?: AbortSignal,
): Promise<"marked" | "empty"> {
  const marker = await readFormatMarker(backend, signal);
  if (marker === "absent") {
    // Any object at all (not only under this workspace): a store is one format throughout.
    for await (const info of backend.list("", { limit: 1, signal })) {
      throw formatError(
        backend,
        1,
        `it holds objects (${JSON.stringify(info.key)}, …) but no format marker: it was written before format version 2, or is not a checkpoint store`,
      );
    }
    return "empty";
  }
  if (marker !== CHECKPOINT_FORMAT_VERSION) {
    throw formatError(backend, marker, `its format marker ${FORMAT_MARKER_KEY} says so`);
  }
  return "marked";
}

async function readFormatMarker(
  backend: RemoteBackend,
  signal?: AbortSignal,
): Promise<unknown | "absent"> {
  try {
    const bytes = await readSmallObject(backend, FORMAT_MARKER_KEY, { maxBytes: 4096, signal });
    return (JSON.parse(bytes.toString("utf8")) as { formatVersion?: unknown } | null)
      ?.formatVersion;
  } catch (error) {
    if (NotFoundError.isInstance(error)) return "absent";
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Writes the format marker (create-only; a concurrent writer's identical marker is fine). */
export async function writeFormatMarker(
  backend: RemoteBackend,
  signal?: AbortSignal,
): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(MARKER)}\n`);
  const created = await putCreateOnly(backend, FORMAT_MARKER_KEY, body, {
    contentType: "application/json",
    signal,
  });
  if (!created) {
    const marker = await readFormatMarker(backend, signal);
    if (marker !== CHECKPOINT_FORMAT_VERSION) {
      throw formatError(backend, marker, `its format marker ${FORMAT_MARKER_KEY} says so`);
    }
  }
}

function formatError(backend: RemoteBackend, version: unknown, why: string): IntegrityError {
  return new IntegrityError(
    `[storage] The store at ${backend.description} is in checkpoint format version ${typeof version === "number" ? version : JSON.stringify(version ?? "unknown")} (${why}); this version of @trainable/storage reads and writes format version ${CHECKPOINT_FORMAT_VERSION}. Use a new store location, or the @trainable/storage release that wrote it.`,
  );
}
