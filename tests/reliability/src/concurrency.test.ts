/**
 * Concurrency, with real processes released together from a barrier:
 * - 8 processes save 8 different checkpoints to one handle: all succeed, the handle ends on one
 *   complete checkpoint equal to one of the 8, and every save left its version in the history;
 * - the same with `expectedDigest` (all read the same previous digest first): exactly one
 *   wins, the 7 others get ConflictError, and the handle holds the winner's checkpoint;
 * - 8 processes load one uncached checkpoint through caches sharing one disk folder: one
 *   download in total, identical results;
 * - saves, prunes and garbage collections (minAgeMs: 0) racing, round after round: every
 *   handle that exists at the end fetches successfully; and the two interleavings that used to
 *   lose a blob, forced deterministically in one process.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type CheckpointStoreImpl,
  createCheckpointStore,
  type RemoteBackend,
} from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordCase, trials } from "./report.js";
import {
  BACKENDS,
  type BackendKind,
  createLocation,
  FolderModel,
  fingerprint,
  type Location,
  makeFolder,
  outcomeOf,
  rng,
  runTogether,
  short,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("concurrency");
const PROCESSES = 8;
const RACE_ROUNDS = trials(3, 10);
const KIB = 1024;
const WORKSPACE = "conc-ws";

interface Folder {
  dir: string;
  print: string;
}

let work: string;
/** 8 different checkpoints (plus a 9th as the "previous" one), ~1.3 MiB each. */
const folders: Folder[] = [];
let bigFolder: Folder;

beforeAll(async () => {
  work = await tempDir("concurrency");
  for (let i = 0; i <= PROCESSES; i++) {
    const dir = await makeFolder(
      join(work, "src", `c${i}`),
      {
        "weights.bin": 1024 * KIB + i * 997,
        [`part-${i % 3}/extra.bin`]: 256 * KIB,
        "config.json": 300 + i,
      },
      `${SEED}-c${i}`,
    );
    folders.push({ dir, print: await fingerprint(dir) });
  }
  const dir = await makeFolder(
    join(work, "src", "big"),
    { "a.bin": 6 * 1024 * KIB, "b/c.bin": 3 * 1024 * KIB, "d.txt": 10 * KIB },
    `${SEED}-big`,
  );
  bigFolder = { dir, print: await fingerprint(dir) };
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function which(print: string | undefined): string {
  const i = folders.findIndex((f) => f.print === print);
  return i >= 0 ? `c${i}` : `unknown(${short(print ?? "")})`;
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Wraps a backend: `afterList(prefixEnd)` pauses a listing whose prefix ends with `prefixEnd`
 * after its last item (so a gc has read every ref and is about to delete), `afterPut(test)`
 * pauses right after a matching put; each returns the point reached and a release function.
 */
function gated(backend: RemoteBackend) {
  const gates: Array<{
    match: (kind: "list" | "put", key: string) => boolean;
    reached: ReturnType<typeof deferred>;
    release: ReturnType<typeof deferred>;
    used: boolean;
  }> = [];
  const pass = async (kind: "list" | "put", key: string) => {
    const gate = gates.find((g) => !g.used && g.match(kind, key));
    if (!gate) return;
    gate.used = true;
    gate.reached.resolve();
    await gate.release.promise;
  };
  const wrapped: RemoteBackend = Object.create(backend, {
    list: {
      value: async function* (prefix: string, options?: { signal?: AbortSignal }) {
        yield* backend.list(prefix, options);
        await pass("list", prefix);
      },
    },
    put: {
      value: async (...args: Parameters<RemoteBackend["put"]>) => {
        const info = await backend.put(...args);
        await pass("put", args[0]);
        return info;
      },
    },
  });
  const gate = (match: (kind: "list" | "put", key: string) => boolean) => {
    const g = { match, reached: deferred(), release: deferred(), used: false };
    gates.push(g);
    return { reached: g.reached.promise, release: g.release.resolve };
  };
  return { backend: wrapped, gate };
}

async function record(
  name: string,
  method: string,
  backend: BackendKind,
  count: number,
  body: () => Promise<string>,
): Promise<void> {
  let outcome: string;
  let failure: unknown;
  try {
    outcome = await body();
  } catch (error) {
    failure = error;
    outcome = `FAILED: ${(error as Error).message.split("\n")[0]}`;
  }
  console.log(`[concurrency] ${backend}: ${name}: ${outcome}`);
  recordCase({
    area: "concurrency",
    case: name,
    method,
    backend,
    trials: count,
    outcome,
    passed: failure === undefined,
  });
  if (failure) throw failure;
}

describe.each(BACKENDS)("concurrency (%s)", (kind: BackendKind) => {
  let location: Location;
  let store: CheckpointStoreImpl;

  beforeAll(async () => {
    location = await createLocation(kind, "concurrency");
    store = await location.open(WORKSPACE);
  });

  afterAll(async () => {
    await store?.close();
    await location?.cleanup();
  });

  const base = (pluginInstanceId: string) => ({
    backend: location.args,
    workspace: WORKSPACE,
    pluginInstanceId,
  });

  it("8 processes saving to one handle: it ends on one complete checkpoint of the 8", async () => {
    await record(
      "8 processes save different checkpoints to one handle",
      "8 child processes released together, saveRemote of 8 different ~1.3 MiB folders to one handle (setAsDefault)",
      kind,
      PROCESSES,
      async () => {
        const pluginInstanceId = "last-writer";
        const runs = await runTogether(
          folders.slice(0, PROCESSES).map((f) => ({
            ...base(pluginInstanceId),
            op: "save",
            folder: f.dir,
            handle: "shared",
            setAsDefault: true,
          })),
        );
        const outcomes = runs.map(outcomeOf);
        expect(
          outcomes.map((o) => o.event),
          JSON.stringify(outcomes.filter((o) => o.event !== "done")),
        ).toEqual(Array(PROCESSES).fill("done"));
        const shared = await FolderModel.loadRemote({ store, pluginInstanceId, handle: "shared" });
        const byDefault = await FolderModel.loadRemote({ store, pluginInstanceId });
        const candidates = folders.slice(0, PROCESSES).map((f) => f.print);
        expect(candidates, `handle holds ${which(shared.print)}`).toContain(shared.print);
        expect(candidates, `default holds ${which(byDefault.print)}`).toContain(byDefault.print);
        // No update was lost: each save appended its own version.
        const history = await store.history({ pluginInstanceId, handle: "shared" });
        expect(new Set(history.map((r) => r.digest))).toEqual(
          new Set(outcomes.map((o) => o.digest as string)),
        );
        const target = join(work, `fetch-${kind}-shared`);
        await store.fetch({ pluginInstanceId, handle: "shared", target });
        expect(await fingerprint(target)).toBe(shared.print);
        await rm(target, { recursive: true, force: true });
        return `all 8 saves succeeded; the handle holds ${which(shared.print)}, default ${which(byDefault.print)}, both complete; the history holds all 8 versions`;
      },
    );
  });

  it("8 processes with expectedDigest: exactly one wins, 7 get ConflictError", async () => {
    await record(
      "8 processes compare-and-swap one handle (expectedDigest)",
      "a checkpoint saved first; 8 child processes each resolve its digest, then (released together) saveRemote with that expectedDigest",
      kind,
      PROCESSES,
      async () => {
        const pluginInstanceId = "cas";
        const previous = new FolderModel();
        previous.source = folders[PROCESSES]!.dir;
        const { ref } = await previous.saveRemote({ store, pluginInstanceId, handle: "model" });
        const runs = await runTogether(
          folders.slice(0, PROCESSES).map((f) => ({
            ...base(pluginInstanceId),
            op: "save",
            folder: f.dir,
            handle: "model",
            setAsDefault: false,
            expectedDigest: "resolve",
          })),
        );
        const outcomes = runs.map(outcomeOf);
        const starts = runs.map((r) => r.events.find((e) => e.event === "start"));
        expect(starts.map((s) => s?.expectedDigest)).toEqual(Array(PROCESSES).fill(ref.digest));
        const winners = outcomes.flatMap((o, i) => (o.event === "done" ? [i] : []));
        const codes = outcomes.filter((o) => o.event === "error").map((o) => o.code);
        expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
        expect(codes).toEqual(Array(PROCESSES - 1).fill("CONFLICT"));
        const model = await FolderModel.loadRemote({ store, pluginInstanceId, handle: "model" });
        expect(model.print, "the handle holds the winner").toBe(folders[winners[0]!]!.print);
        const history = await store.history({ pluginInstanceId, handle: "model" });
        expect(history.map((r) => r.digest)).toEqual([outcomes[winners[0]!]!.digest, ref.digest]);
        return `1 winner (c${winners[0]}), 7 × ConflictError (code CONFLICT); the handle holds the winner; history: winner ← previous`;
      },
    );
  });

  it("8 processes loading one uncached checkpoint: one download, identical results", async () => {
    await record(
      "8 processes load one uncached checkpoint through one disk cache",
      "a 9 MiB checkpoint; 8 child processes with their own model cache on one shared disk folder, released together, loadRemote",
      kind,
      PROCESSES,
      async () => {
        const pluginInstanceId = "loaders";
        const model = new FolderModel();
        model.source = bigFolder.dir;
        await model.saveRemote({ store, pluginInstanceId, handle: "served" });
        const diskDir = await tempDir("shared-cache");
        try {
          const runs = await runTogether(
            Array.from({ length: PROCESSES }, () => ({
              ...base(pluginInstanceId),
              op: "load",
              handle: "served",
              diskDir,
            })),
          );
          const outcomes = runs.map(outcomeOf);
          expect(
            outcomes.map((o) => o.event),
            JSON.stringify(outcomes.filter((o) => o.event !== "done")),
          ).toEqual(Array(PROCESSES).fill("done"));
          for (const o of outcomes) expect(o.print).toBe(bigFolder.print);
          const stats = outcomes.map((o) => o.stats as Record<string, number>);
          const downloads = stats.reduce((sum, s) => sum + s.downloads!, 0);
          const diskHits = stats.reduce((sum, s) => sum + s.diskHits!, 0);
          expect(downloads, JSON.stringify(stats)).toBe(1);
          expect(diskHits).toBe(PROCESSES - 1);
          return `1 download in total, 7 disk hits; all 8 got the identical checkpoint`;
        } finally {
          await rm(diskDir, { recursive: true, force: true });
        }
      },
    );
  });

  it("a save racing gc keeps its blob: the two losing interleavings, forced", async () => {
    await record(
      "save vs gc interleavings that lost blobs (deterministic)",
      "in one process, gc paused after reading every ref (before deleting) while a save writes its ref: (1) a deduplicated save reusing an orphan blob, (2) a fresh upload with gc minAgeMs 0; then the handle is fetched",
      kind,
      2,
      async () => {
        const pluginInstanceId = "interleaved";
        const refs = `${WORKSPACE}/${pluginInstanceId}/refs/`;
        // (1) A deduplicated save onto an orphan blob (its only handle was just deleted).
        {
          await store.save({
            pluginInstanceId,
            handle: "old",
            folder: folders[0]!.dir,
            setAsDefault: false,
          });
          await store.delete({ pluginInstanceId, handle: "old" });
          const g = gated(location.backend());
          const gcStore = await createCheckpointStore({ backend: g.backend, workspace: WORKSPACE });
          const paused = g.gate((op, key) => op === "list" && key === refs);
          const gc = gcStore.gc({ pluginInstanceId, minAgeMs: 0 });
          await paused.reached;
          const s = gated(location.backend());
          const saveStore = await createCheckpointStore({
            backend: s.backend,
            workspace: WORKSPACE,
          });
          const refWritten = s.gate((op, key) => op === "put" && key.startsWith(refs));
          let saveDone = false;
          const save = saveStore
            .save({
              pluginInstanceId,
              handle: "reused",
              folder: folders[0]!.dir,
              setAsDefault: false,
            })
            .finally(() => {
              saveDone = true;
            });
          await refWritten.reached;
          refWritten.release();
          await new Promise((r) => setTimeout(r, 150)); // let the save finish if it does not wait
          paused.release();
          const [collected] = await Promise.all([gc, save]);
          expect(collected.deleted).toHaveLength(1); // the orphan it saw, removed...
          const target = join(work, `interleaved-1-${kind}`);
          await store.fetch({ pluginInstanceId, handle: "reused", target }); // ...and put back
          expect(await fingerprint(target)).toBe(folders[0]!.print);
          await rm(target, { recursive: true, force: true });
          expect(saveDone).toBe(true);
          await gcStore.close();
          await saveStore.close();
        }
        // (2) A fresh upload, gc with minAgeMs 0 listing the blob before the ref exists.
        {
          const s = gated(location.backend());
          const saveStore = await createCheckpointStore({
            backend: s.backend,
            workspace: WORKSPACE,
          });
          const uploaded = s.gate((op, key) => op === "put" && /\.tar\.json$/.test(key));
          const save = saveStore.save({
            pluginInstanceId,
            handle: "fresh",
            folder: folders[1]!.dir,
            setAsDefault: false,
          });
          await uploaded.reached;
          const g = gated(location.backend());
          const gcStore = await createCheckpointStore({ backend: g.backend, workspace: WORKSPACE });
          const paused = g.gate((op, key) => op === "list" && key === refs);
          const gc = gcStore.gc({ pluginInstanceId, minAgeMs: 0 });
          await paused.reached;
          uploaded.release();
          await new Promise((r) => setTimeout(r, 150));
          paused.release();
          const [collected] = await Promise.all([gc, save]);
          const target = join(work, `interleaved-2-${kind}`);
          await store.fetch({ pluginInstanceId, handle: "fresh", target });
          expect(await fingerprint(target)).toBe(folders[1]!.print);
          await rm(target, { recursive: true, force: true });
          await gcStore.close();
          await saveStore.close();
          return `both interleavings: the save waited for the collection and re-uploaded the blob it deleted (${collected.deleted.length} deleted in (2)); the handle fetches`;
        }
      },
    );
  });

  it(`saves, prunes and gc racing: no live blob deleted (${RACE_ROUNDS} rounds, seed ${SEED})`, async () => {
    await record(
      "saves, prune(keepLast) and gc(minAgeMs: 0) racing",
      `${RACE_ROUNDS} rounds of 3 saves (new and already-stored checkpoints, to new handles, some setAsDefault) + prune({keepLast: 2}) + gc({minAgeMs: 0}) in 5 processes released together (seed ${SEED}); then every handle is fetched`,
      kind,
      RACE_ROUNDS,
      async () => {
        const random = rng(SEED ^ (kind === "s3" ? 0x77 : 0x33));
        const pluginInstanceId = "racing";
        let saved = 0;
        let pruned = 0;
        let collected = 0;
        for (let round = 0; round < RACE_ROUNDS; round++) {
          const saves = Array.from({ length: 3 }, (_, i) => {
            // Mostly a checkpoint not stored yet; sometimes one already stored (deduplicated).
            const folder = folders[Math.floor(random() * folders.length)]!;
            return {
              ...base(pluginInstanceId),
              op: "save",
              folder: folder.dir,
              handle: `r${round}-s${i}`,
              setAsDefault: random() < 0.5,
            };
          });
          const runs = await runTogether([
            ...saves,
            { ...base(pluginInstanceId), op: "prune", keepLast: 2 },
            { ...base(pluginInstanceId), op: "gc", minAgeMs: 0 },
          ]);
          const outcomes = runs.map(outcomeOf);
          const failed = outcomes.filter((o) => o.event !== "done");
          expect(failed, `round ${round}: ${JSON.stringify(failed)}`).toEqual([]);
          saved += 3;
          pruned += (outcomes[3]!.deleted as string[]).length;
          collected += (outcomes[4]!.deleted as string[]).length;
          // Every handle that exists now fetches, whole.
          const refs = await store.list({ pluginInstanceId });
          for (const ref of refs) {
            const target = join(work, `race-${kind}-${round}-${ref.handle}`);
            try {
              await store.fetch({ pluginInstanceId, handle: ref.handle, target });
            } catch (error) {
              throw new Error(
                `round ${round} (seed ${SEED}): handle "${ref.handle}" does not fetch: ${(error as Error).message}`,
              );
            }
            const print = await fingerprint(target);
            expect(folders.map((f) => f.print)).toContain(print);
            await rm(target, { recursive: true, force: true });
          }
        }
        const left = await store.list({ pluginInstanceId });
        return `${saved} saves, ${pruned} handles pruned, ${collected} blobs collected; all ${left.length} remaining handles fetched after every round`;
      },
    );
  });
});
