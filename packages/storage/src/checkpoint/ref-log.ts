import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointRef,
  CheckpointRef as CheckpointRefSchema,
  ConflictError,
  IntegrityError,
  NotFoundError,
  ValidationError,
} from "@trainable/core";
import { z } from "zod";
import { PreconditionFailedError } from "../backends/precondition-failed-error.js";
import type { RemoteBackend } from "../backends/types.js";
import { readSmallObject } from "../util/read-small-object.js";
import { MAX_SEQ, parseRefVersionKey, refPrefix, refVersionKey, type Scope } from "./keys.js";

/**
 * Refs are append-only logs whose version keys are never freed.
 *
 * Each update of a handle creates version `seq + 1` with a create-only write, where `seq` is
 * the newest version. A version key, once created, exists forever: old versions are trimmed
 * by emptying them (a 0-byte object), and deleting a handle appends a deletion version. So a
 * writer that read version `seq` and creates `seq + 1` succeeds exactly when nobody else has
 * created `seq + 1` since — ever — which makes "the handle still points at what I read" (an
 * expected digest) a compare-and-swap that holds however long the writer was delayed: a stale
 * writer's create-only write lands on a key that already exists and fails with a
 * `ConflictError`. Versions are numbered downwards in their keys, so the newest lists first
 * and reading a handle costs one short listing and one small read, however long its history.
 */

/** The largest ref (or deletion) document written or read: the same limit both ways. */
export const MAX_REF_BYTES = 64 * 1024;

const Deletion = z.object({
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  handle: z.string(),
  deleted: z.literal(true),
  createdAt: z.iso.datetime({ offset: true }),
  parent: z.string().nullable(),
});
type Deletion = z.infer<typeof Deletion>;

export type RefVersion =
  | { kind: "ref"; seq: number; ref: CheckpointRef }
  | { kind: "deleted"; seq: number; deletion: Deletion }
  | { kind: "trimmed"; seq: number };

/** Parses one stored version; anything but a well-formed ref, deletion or 0 bytes is an IntegrityError. */
export function parseRefVersion(
  bytes: Buffer,
  key: string,
  handle: string,
  seq: number,
): RefVersion {
  if (bytes.length === 0) return { kind: "trimmed", seq };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new IntegrityError(`[storage] Malformed ref "${key}": not valid JSON`, { cause });
  }
  const version =
    (json as { formatVersion?: unknown } | null)?.formatVersion ??
    (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    throw new IntegrityError(
      `[storage] Ref "${key}" is in checkpoint format version ${JSON.stringify(version ?? "unknown")}; this version of @trainable/storage reads and writes format version ${CHECKPOINT_FORMAT_VERSION}`,
    );
  }
  const parsed =
    (json as { deleted?: unknown }).deleted === true
      ? Deletion.safeParse(json)
      : CheckpointRefSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new IntegrityError(`[storage] Malformed ref "${key}": ${fields}`, {
      cause: parsed.error,
    });
  }
  if (parsed.data.handle !== handle) {
    throw new IntegrityError(
      `[storage] Malformed ref "${key}": it names handle ${JSON.stringify(parsed.data.handle)}`,
    );
  }
  return "deleted" in parsed.data
    ? { kind: "deleted", seq, deletion: parsed.data as Deletion }
    : { kind: "ref", seq, ref: parsed.data as CheckpointRef };
}

export async function readRefVersion(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  seq: number,
  signal?: AbortSignal,
): Promise<RefVersion> {
  const key = refVersionKey(scope, handle, seq);
  const bytes = await readSmallObject(backend, key, { maxBytes: MAX_REF_BYTES, signal });
  return parseRefVersion(bytes, key, handle, seq);
}

/**
 * The newest version of a handle, or undefined when it never existed. Keys that are not
 * versions (a `.DS_Store`, anything planted) are skipped, not taken for the end of the log.
 * A version is emptied (trimmed, or withdrawn by a writer that found it names a collected
 * blob) only once a newer one exists: an empty newest version read right after the listing
 * means one was appended meanwhile, so the handle is listed again; one that stays the newest
 * is an `IntegrityError`.
 */
export async function readNewestVersion(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  signal?: AbortSignal,
): Promise<RefVersion | undefined> {
  let emptied: number | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const seq = await newestSeq(backend, scope, handle, signal);
    if (seq === undefined) return undefined;
    if (seq === emptied) break;
    const version = await readRefVersion(backend, scope, handle, seq, signal);
    if (version.kind !== "trimmed") return version;
    emptied = seq;
  }
  throw new IntegrityError(
    `[storage] Malformed ref "${refVersionKey(scope, handle, emptied ?? 0)}": the newest version of handle "${handle}" is empty`,
  );
}

/** The number of the newest version key of a handle (empty or not). */
async function newestSeq(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  for await (const info of backend.list(refPrefix(scope, handle), { limit: 32, signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (parsed?.handle === handle) return parsed.seq;
  }
  // More than 32 keys that are not versions before the first version: look at all of them.
  for await (const info of backend.list(refPrefix(scope, handle), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (parsed?.handle === handle) return parsed.seq;
  }
  return undefined;
}

/** Every version key of a handle with its size, newest first. */
export async function listVersions(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  signal?: AbortSignal,
): Promise<Array<{ seq: number; size: number }>> {
  const out: Array<{ seq: number; size: number }> = [];
  for await (const info of backend.list(refPrefix(scope, handle), { signal })) {
    const parsed = parseRefVersionKey(info.key, scope);
    if (parsed && parsed.handle === handle) out.push({ seq: parsed.seq, size: info.size });
  }
  return out.sort((a, b) => b.seq - a.seq);
}

export interface AppendOptions {
  /** Compare-and-swap: the digest the handle must point at now (`null`: must not exist). */
  expectedDigest?: string | null;
  /** Versions kept readable per handle; older ones are emptied (default 10, at least 1). */
  history: number;
  signal?: AbortSignal;
  /**
   * The newest version, read by the caller beforehand (to overlap the read with other work):
   * used for the first attempt only; a lost race reads again.
   */
  newest?: Promise<RefVersion | undefined>;
}

/**
 * Appends a version: a ref (the handle now points at it) or a deletion. Without an expected
 * digest, a lost race is retried on the new newest version; with one, it is a `ConflictError`.
 * Returns what was written (a ref gets its `parent`).
 */
export async function appendVersion(
  ...args: Parameters<typeof appendVersionAt>
): Promise<CheckpointRef | undefined> {
  return (await appendVersionAt(...args)).written;
}

/**
 * `appendVersion`, also giving the version number written and the version it was written over
 * (read before the create-only write succeeded, so exactly the one just below it).
 */
export async function appendVersionAt(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  body: CheckpointRef | "deleted",
  options: AppendOptions & { now: () => Date },
): Promise<{ written: CheckpointRef | undefined; seq: number; previous: RefVersion | undefined }> {
  const where = `handle "${handle}" of ${scope.workspace}/${scope.pluginInstanceId}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    let newest: RefVersion | undefined;
    try {
      newest =
        attempt === 0 && options.newest !== undefined
          ? await options.newest
          : await readNewestVersion(backend, scope, handle, options.signal);
    } catch (error) {
      // A malformed newest version does not block a plain overwrite (it is never the newest again).
      if (!IntegrityError.isInstance(error) || options.expectedDigest !== undefined) throw error;
      const versions = await listVersions(backend, scope, handle, options.signal);
      newest = versions[0] && { kind: "trimmed", seq: versions[0].seq };
    }
    const current = newest?.kind === "ref" ? newest.ref.digest : null;
    if (options.expectedDigest !== undefined && current !== options.expectedDigest) {
      throw new ConflictError(
        `[storage] ${where} points at ${current ?? "nothing"}, not the expected ${options.expectedDigest ?? "nothing"}`,
        { expected: options.expectedDigest, actual: current },
      );
    }
    if (body === "deleted" && newest?.kind !== "ref") {
      throw new NotFoundError(`[storage] No checkpoint at ${where} to delete`);
    }
    const seq = (newest?.seq ?? -1) + 1;
    if (seq > MAX_SEQ) {
      throw new IntegrityError(
        `[storage] ${where} has no version number left after ${newest?.seq} (a planted version?): delete that handle's refs folder by hand`,
      );
    }
    const written =
      body === "deleted"
        ? {
            formatVersion: CHECKPOINT_FORMAT_VERSION,
            handle,
            deleted: true as const,
            createdAt: options.now().toISOString(),
            parent: current,
          }
        : { ...body, handle, parent: current };
    const bytes = Buffer.from(`${JSON.stringify(written)}\n`);
    if (bytes.length > MAX_REF_BYTES) {
      throw ValidationError.forField(
        "storage",
        "metadata",
        `makes the ref ${bytes.length} bytes, over the ${MAX_REF_BYTES}-byte limit of a ref: keep large data in the checkpoint folder`,
      );
    }
    try {
      await backend.put(refVersionKey(scope, handle, seq), bytes, {
        ifNoneMatch: "*",
        contentLength: bytes.length,
        contentType: "application/json",
        signal: options.signal,
      });
    } catch (error) {
      if (!PreconditionFailedError.isInstance(error)) throw error;
      if (options.expectedDigest !== undefined) {
        throw new ConflictError(
          `[storage] ${where} was updated concurrently; expected ${options.expectedDigest ?? "nothing"}`,
          { expected: options.expectedDigest, cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, Math.random() * 20 * Math.min(attempt + 1, 10)));
      continue;
    }
    await trim(backend, scope, handle, seq, {
      history: options.history,
      deletion: body === "deleted",
      signal: options.signal,
    });
    return {
      written: body === "deleted" ? undefined : (written as CheckpointRef),
      seq,
      previous: newest,
    };
  }
  throw new ConflictError(`[storage] Gave up updating ${where}: too much contention`);
}

/**
 * Empties the versions that leave the readable window, so they no longer keep their
 * checkpoints alive; keys stay (a key is never created twice). Versions are contiguous and
 * each append empties the one at `seq - history`, so an append costs one write and no listing,
 * however old the handle. After a deletion, every version before it goes: the window's
 * versions (older ones are empty already). Best effort: a version left unemptied only keeps
 * its checkpoint a little longer.
 */
async function trim(
  backend: RemoteBackend,
  scope: Scope,
  handle: string,
  seq: number,
  options: { history: number; deletion: boolean; signal: AbortSignal | undefined },
): Promise<void> {
  const history = Math.max(1, options.history);
  const { signal } = options;
  const empty = (old: number) =>
    backend
      .put(refVersionKey(scope, handle, old), Buffer.alloc(0), { contentLength: 0, signal })
      .catch(() => {});
  if (!options.deletion) {
    if (seq - history >= 0) await empty(seq - history);
    return;
  }
  const stale: number[] = [];
  try {
    for await (const info of backend.list(refPrefix(scope, handle), {
      limit: history + 2,
      signal,
    })) {
      const parsed = parseRefVersionKey(info.key, scope);
      if (parsed?.handle === handle && parsed.seq < seq && info.size > 0) stale.push(parsed.seq);
    }
  } catch {
    return;
  }
  for (const old of stale) await empty(old);
}
