import {
  type CheckpointRef,
  CheckpointRef as CheckpointRefSchema,
  ConflictError,
  IntegrityError,
  NotFoundError,
} from "@trainable/core";
import { PreconditionFailedError } from "../backends/precondition-failed-error.js";
import type { RemoteBackend } from "../backends/types.js";
import { readSmallObject } from "../util/read-small-object.js";
import { parseRefVersionKey, refPrefix, refVersionKey, type Scope } from "./keys.js";

/**
 * Refs are append-only logs: each update of a handle writes a new, immutable version
 * `refs/{handle}/{seq}.json` with a create-only write, and the highest `seq` is current.
 * This needs nothing but create-only writes from the backend (which every backend we support
 * has, where `If-Match` is unreliable across S3 stores), makes every update atomic, turns an
 * expected previous digest into a true compare-and-swap (two writers cannot both create
 * `seq + 1`), and keeps a short history of each handle.
 */

const MAX_REF_BYTES = 64 * 1024 * 1024;

export async function listRefSeqs(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  signal?: AbortSignal,
): Promise<number[]> {
  const prefix = refPrefix(scope, handle);
  const parent = prefix.slice(0, prefix.length - handle.length - 1);
  const seqs: number[] = [];
  for await (const info of backend.list(prefix, { signal })) {
    const parsed = parseRefVersionKey(info.key, parent);
    if (parsed && parsed.handle === handle) seqs.push(parsed.seq);
  }
  return seqs.sort((a, b) => a - b);
}

export async function readRefAt(
  backend: RemoteBackend,
  key: string,
  signal?: AbortSignal,
): Promise<CheckpointRef> {
  const bytes = await readSmallObject(backend, key, { maxBytes: MAX_REF_BYTES, signal });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new IntegrityError(`[storage] Malformed ref "${key}": not valid JSON`, { cause });
  }
  const parsed = CheckpointRefSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new IntegrityError(`[storage] Malformed ref "${key}": ${fields}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** The current version of a handle, or undefined when the handle does not exist. */
export async function readLatestRef(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  signal?: AbortSignal,
): Promise<{ seq: number; ref: CheckpointRef } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const seqs = await listRefSeqs(backend, scope, handle, signal);
    const seq = seqs.at(-1);
    if (seq === undefined) return undefined;
    try {
      const ref = await readRefAt(backend, refVersionKey(scope, handle, seq), signal);
      if (ref.handle !== handle) {
        throw new IntegrityError(
          `[storage] Malformed ref "${refVersionKey(scope, handle, seq)}": it names handle "${ref.handle}"`,
        );
      }
      return { seq, ref };
    } catch (error) {
      // Raced with a deletion of that version: list again.
      if (NotFoundError.isInstance(error) && attempt < 5) continue;
      throw error;
    }
  }
}

export interface AppendRefOptions {
  /** Compare-and-swap: the digest the handle must point at now (`null`: must not exist). */
  expectedDigest?: string | null;
  /** Versions kept per handle (older ones are deleted best-effort). */
  history: number;
  signal?: AbortSignal;
}

/** Appends a new version of `ref.handle`. Returns the ref as written (with `parent`). */
export async function appendRef(
  backend: RemoteBackend,
  scope: Scope,
  ref: CheckpointRef,
  options: AppendRefOptions,
): Promise<CheckpointRef> {
  const handle = ref.handle;
  for (let attempt = 0; attempt < 100; attempt++) {
    const seqs = await listRefSeqs(backend, scope, handle, options.signal);
    const latestSeq = seqs.at(-1);
    let current: CheckpointRef | undefined;
    if (latestSeq !== undefined) {
      try {
        current = await readRefAt(backend, refVersionKey(scope, handle, latestSeq), options.signal);
      } catch (error) {
        if (NotFoundError.isInstance(error)) continue; // deleted under us: look again
        if (!IntegrityError.isInstance(error) || options.expectedDigest !== undefined) throw error;
        // A malformed current version does not block a plain overwrite.
      }
    }
    if (options.expectedDigest !== undefined) {
      const actual = latestSeq === undefined ? null : (current?.digest ?? null);
      if (actual !== options.expectedDigest) {
        throw new ConflictError(
          `[storage] Handle "${handle}" of ${scope.workspace}/${scope.pluginInstanceId} points at ${actual ?? "nothing"}, not the expected ${options.expectedDigest ?? "nothing"}`,
          { expected: options.expectedDigest, actual },
        );
      }
    }
    const seq = (latestSeq ?? -1) + 1;
    const written: CheckpointRef = { ...ref, parent: current?.digest ?? null };
    const body = Buffer.from(`${JSON.stringify(written, null, 2)}\n`);
    try {
      await backend.put(refVersionKey(scope, handle, seq), body, {
        ifNoneMatch: "*",
        contentLength: body.length,
        contentType: "application/json",
        signal: options.signal,
      });
    } catch (error) {
      if (!PreconditionFailedError.isInstance(error)) throw error;
      if (options.expectedDigest !== undefined) {
        throw new ConflictError(
          `[storage] Handle "${handle}" of ${scope.workspace}/${scope.pluginInstanceId} was updated concurrently; expected ${options.expectedDigest ?? "nothing"}`,
          { expected: options.expectedDigest, cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt + 1, 10)));
      continue;
    }
    // Trim history, oldest first; never the version just written.
    const stale = [...seqs, seq].filter((s) => s <= seq - options.history);
    for (const s of stale) {
      await backend.delete(refVersionKey(scope, handle, s)).catch(() => {});
    }
    return written;
  }
  throw new ConflictError(`[storage] Gave up updating handle "${handle}": too much contention`);
}
