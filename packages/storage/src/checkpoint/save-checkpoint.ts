import {
  CancelledError,
  type CheckpointRef,
  type Id,
  RemoteError,
  type SaveCheckpointOptions,
  type SaveCheckpointResult,
} from "@trainable/core";
import { manifestDigest } from "../archive/manifest.js";
import { walkFolder } from "../archive/walk-folder.js";
import { claimStoredBlob } from "./blob-registry.js";
import { checkMetadata } from "./checkpoint-metadata.js";
import { indexKey, type Scope } from "./keys.js";
import { publishPinned, repoint, type SaveJob } from "./publish-refs.js";
import { readNewestVersion } from "./ref-log.js";
import { undoVersion, type WrittenVersion, withdrawVersions } from "./repair-refs.js";
import { describeHandle, type StoreContext } from "./store-context.js";
import { uploadBlob } from "./upload-blob.js";

/**
 * Saves a folder as a checkpoint (see docs/architecture.md, "Saving"):
 *
 * 1. walk the folder (names, types and limits checked; nothing read yet);
 * 2. if every file is known unchanged from an earlier save (`FingerprintCache`), the digest is
 *    known: reuse a stored blob of it, uploading nothing;
 * 3. otherwise pin a fresh blob id and stream the archive to it in one pass — each byte read
 *    once, hashed on the way — then its manifest; publish an index record (or, when an
 *    identical checkpoint was stored meanwhile, reuse that one and drop ours);
 * 4. right before the ref write, refresh the pin and check the blob is neither doomed nor gone
 *    (a reused blob is checked as it is claimed); if it is, upload again without writing a ref;
 * 5. append the ref version(s), compare-and-swap when an expected digest is given;
 * 6. check again that the blob was not collected (a collection that took our pin for stale
 *    while the ref write was on its way): if it was, upload it again, move the refs to the fresh
 *    copy and withdraw the versions naming the collected one; then release the pin.
 */
export async function saveCheckpoint(
  ctx: StoreContext,
  what: {
    scope: Scope;
    handle: Id;
    folder: string;
    save: SaveCheckpointOptions;
    /** Remember the files' fingerprints (a caller's folder, not a temp one). */
    remember: boolean;
  },
): Promise<SaveCheckpointResult> {
  const { scope, handle, folder, save } = what;
  const metadata = checkMetadata(ctx, save.metadata);
  const job: SaveJob = { ctx, scope, handle, metadata, save };
  CancelledError.throwIfAborted(save.signal, "[storage] Save");
  await ctx.ensureFormatMarker(save.signal);
  save.onProgress?.({ phase: "pack", bytes: 0 });

  const entries = await walkFolder({ folder, limits: ctx.limits, signal: save.signal });
  const fingerprints = what.remember ? ctx.fingerprints : undefined;
  const known = await fingerprints?.lookup(folder, entries, save.signal);
  /** Versions this save wrote that name a collected blob (withdrawn once repaired). */
  const dead: WrittenVersion[] = [];
  /** The ref the handle was left at by a write whose blob was collected: repoint from it. */
  let repairing: CheckpointRef | undefined;
  if (known !== undefined) {
    // The handle's newest version is read while a stored blob of the digest is claimed.
    const newest = readNewestVersion(ctx.backend, scope, handle, save.signal);
    newest.catch(() => {});
    const claimed = await claimStoredBlob(ctx.backend, scope, manifestDigest(known), {
      ttlMs: ctx.pinTtlMs,
      signal: save.signal,
    });
    if (claimed) {
      // The claim pinned the blob and then checked it: that is the check before the ref write.
      const outcome = await publishPinned(job, claimed, {
        newest,
        checked: true,
      });
      if (!outcome.collected) return { ...outcome.refs!, uploadedBytes: 0 };
      // Collected after all (a collection that ignored a stale pin): store it again below.
      if (outcome.refs) {
        repairing = outcome.refs.ref;
        dead.push(...outcome.written);
      }
    }
  }

  for (let attempt = 0; attempt < 3; attempt++) {
    const clock = await fingerprints?.clock(folder);
    const uploaded = await uploadBlob(ctx, scope, entries, save);
    const outcome = repairing
      ? await repoint(job, uploaded, repairing)
      : await publishPinned(job, uploaded, {
          checked: false,
        });
    if (!outcome.collected) {
      // Our dead versions have live ones on top now (or another writer's): withdraw them.
      await withdrawVersions(ctx, scope, dead, save.signal);
      if (fingerprints && uploaded.files) {
        await fingerprints.remember(folder, uploaded.files, clock);
      }
      return { ...outcome.refs!, uploadedBytes: uploaded.bytes };
    }
    if (outcome.refs) {
      repairing = outcome.refs.ref;
      dead.push(...outcome.written);
    }
    // Our upload was doomed: its index record must not offer it to other saves.
    if (uploaded.published) {
      await ctx.backend
        .delete(indexKey(scope, uploaded.record.digest, uploaded.record.blobId))
        .catch(() => {});
    }
  }
  // Giving up: the newest versions we wrote name collected blobs. Put back what each handle
  // pointed at before this save (unless someone moved it since), so no handle is left naming
  // a deleted blob, and withdraw our versions.
  for (const name of new Set(dead.map((v) => v.handle))) {
    const mine = dead.filter((v) => v.handle === name);
    const last = mine.at(-1)!;
    await undoVersion(ctx, scope, { ...last, previous: mine[0]!.previous }, save.signal).catch(
      () => {},
    );
    await withdrawVersions(ctx, scope, mine.slice(0, -1), save.signal);
  }
  throw new RemoteError(
    `[storage] Saving ${describeHandle(scope, handle)}: its blob was collected by a garbage collection three times; is a collection running with a pin lifetime shorter than this save?`,
    { retryable: true },
  );
}
