/**
 * Crash safety: `saveRemote` runs in a child process that is SIGKILLed at a random moment of the
 * save (seeded delays spread over its measured duration) or right after a chosen step (a
 * wrapped backend in child.mjs that kills the process when a given key is written). Saves
 * alternate between two folders per handle, with setAsDefault. After every kill, every handle
 * must resolve to a complete checkpoint (the old or the new one, never anything else),
 * `loadRemote` must return exactly one of the two folders, and `gc` must delete exactly the
 * orphan blobs — no blob a ref version points at — and leave no orphan manifest, index record
 * or pin. The kill-points case kills at each step of the save in turn and checks the exact
 * state each step must leave, then that a re-save works.
 */
import { cp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { createModelCache } from "@trainable/cache";
import type { CheckpointStoreImpl } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordCase, trials } from "./report.js";
import {
  BACKENDS,
  type BackendKind,
  blobIdOf,
  createLocation,
  FolderModel,
  fingerprint,
  inventory,
  type Location,
  makeFolder,
  namedBlobs,
  orphansOf,
  outcomeOf,
  rng,
  short,
  startChild,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("crash-safety");
const TRIALS = trials(10, 50);
const KILL_POINTS_PER_STEP = trials(1, 4);
/** Where a save can be killed (see child.mjs): the steps of a format-version-2 save, in order. */
const PHASES = [
  "mid-upload",
  "after-archive",
  "after-manifest",
  "after-index",
  "after-ref",
  "before-default",
  "after-default",
] as const;
/**
 * The pin lifetime of the collecting store: a killed save's pin protects its blob this long
 * (the default is an hour). After a kill the test waits PIN_WAIT_MS, past it on the store's
 * clock, so that `gc` may collect what the killed save left.
 */
const PIN_TTL_MS = 1500;
const PIN_WAIT_MS = 2600;
const MIB = 1024 * 1024;
const WORKSPACE = "crash-ws";
const INSTANCE = "crash-instance";

interface Folder {
  name: string;
  dir: string;
  print: string;
}

let work: string;
const folders: Record<string, Folder> = {};

beforeAll(async () => {
  work = await tempDir("crash");
  const specs: Record<string, Record<string, number>> = {
    // ~23.5 MiB and ~38.5 MiB, several files, different layouts.
    big1: {
      "weights/layer-0.bin": 10 * MIB,
      "weights/layer-1.bin": 8 * MIB,
      "weights/layer-2.bin": 5 * MIB,
      "tokenizer/vocab.txt": 512 * 1024,
      "config.json": 1024,
      README: 0,
    },
    big2: {
      "weights/layer-0.bin": 16 * MIB,
      "weights/layer-1.bin": 12 * MIB,
      "weights/layer-3.bin": 10 * MIB,
      "tokenizer/vocab.txt": 512 * 1024 + 1,
      "config.json": 1024,
      "extra/notes.md": 3000,
    },
    small1: { "model.json": 2048, "table.bin": 64 * 1024 },
    small2: { "model.json": 3072, "sub/table.bin": 48 * 1024 },
  };
  for (const [name, spec] of Object.entries(specs)) {
    const dir = await makeFolder(join(work, "src", name), spec, `${SEED}-${name}`);
    folders[name] = { name, dir, print: await fingerprint(dir) };
  }
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Aborts (and counts) the incomplete multipart uploads under a location's prefix. */
async function abortMultipartUploads(
  settings: Extract<Location["args"], { kind: "s3" }>["settings"],
): Promise<number> {
  const client = new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
  });
  try {
    const listed = await client.send(
      new ListMultipartUploadsCommand({ Bucket: settings.bucket, Prefix: settings.prefix }),
    );
    const uploads = listed.Uploads ?? [];
    for (const upload of uploads) {
      await client.send(
        new AbortMultipartUploadCommand({
          Bucket: settings.bucket,
          Key: upload.Key,
          UploadId: upload.UploadId,
        }),
      );
    }
    return uploads.length;
  } finally {
    client.destroy();
  }
}

/** Temp files (`.~tmp.*`) anywhere under a file store's root. */
async function tempFiles(root: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.startsWith(".~tmp.")) {
      count++;
      bytes += (await stat(join(entry.parentPath, entry.name))).size;
    }
  }
  return { count, bytes };
}

const scopeOf = (instance: string) => `${WORKSPACE}/${instance}/`;

/** Waits until the pins a killed save left are stale for the collecting store (if any). */
async function outlivePins(store: CheckpointStoreImpl, instance = INSTANCE): Promise<boolean> {
  const { pins } = await inventory(store.backend, scopeOf(instance));
  if (pins.length === 0) return false;
  await sleep(PIN_WAIT_MS);
  return true;
}

/** gc({minAgeMs: 0}); then no orphan archive, manifest, index record or pin may be left. */
async function collectAndCheck(store: CheckpointStoreImpl, what: string, instance = INSTANCE) {
  const scope = scopeOf(instance);
  const live = await namedBlobs(store.backend, scope);
  const before = await inventory(store.backend, scope);
  const orphans = [...before.archives]
    .filter(([id]) => !live.has(id))
    .map(([, key]) => key)
    .sort();
  const gc = await store.gc({ pluginInstanceId: instance, minAgeMs: 0 });
  expect([...gc.deleted].sort(), `${what}: gc deleted`).toEqual(orphans);
  const after = await inventory(store.backend, scope);
  expect(
    orphansOf(after, await namedBlobs(store.backend, scope)),
    `${what}: left after gc`,
  ).toEqual([]);
  expect([...after.archives.keys()].sort(), `${what}: blobs after gc`).toEqual([...live].sort());
  return { gc, before, after };
}

/**
 * The pids owning the store's temp folders under `work/tmp` (`trainable-save-{host}-{pid}-…`):
 * a killed save leaves its folder, and the next save of any process on the machine removes it.
 */
async function tempFolderPids(): Promise<number[]> {
  const names = await readdir(join(work, "tmp")).catch(() => [] as string[]);
  return names.map((name) => Number(/-(\d+)-[A-Za-z0-9]{6}$/.exec(name)?.[1] ?? Number.NaN));
}

/** Runs one save in a child; with `killAfterMs` or `killAt`, kills it. Returns what happened. */
async function runSave(
  location: Location,
  folder: Folder,
  handle: string,
  kill: { afterMs?: number; at?: string },
): Promise<{ killed: boolean; ms: number; pid: number }> {
  const run = startChild({
    store: { tmpDir: join(work, "tmp") },
    op: "save",
    backend: location.args,
    workspace: WORKSPACE,
    pluginInstanceId: INSTANCE,
    folder: folder.dir,
    handle,
    setAsDefault: true,
    killAt: kill.at,
  });
  await run.ready;
  run.go();
  await run.waitFor("start");
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  if (kill.afterMs !== undefined) {
    timer = setTimeout(() => run.child.kill("SIGKILL"), kill.afterMs);
  }
  const exit = await run.exit;
  clearTimeout(timer);
  const pid = run.child.pid as number;
  if (exit.signal === "SIGKILL") return { killed: true, ms: performance.now() - started, pid };
  const outcome = outcomeOf(exit);
  if (outcome.event !== "done") throw new Error(`save failed: ${JSON.stringify(outcome)}`);
  return { killed: false, ms: outcome.ms as number, pid };
}

describe.each(BACKENDS)("crash safety: SIGKILL during saveRemote (%s)", (kind: BackendKind) => {
  let location: Location;
  let store: CheckpointStoreImpl;

  beforeAll(async () => {
    location = await createLocation(kind, "crash");
    store = await location.open(WORKSPACE, { pinTtlMs: PIN_TTL_MS });
  });

  afterAll(async () => {
    await store?.close();
    await location?.cleanup();
  });

  it(`every handle stays on a complete checkpoint (${TRIALS} kills, seed ${SEED})`, async () => {
    const random = rng(SEED ^ (kind === "s3" ? 0x5a5a : 0xa5a5));
    const bases = {
      big: [folders.big1!, folders.big2!],
      small: [folders.small1!, folders.small2!],
    };
    // Each save is a new generation: one of the pair's two layouts plus a generation stamp, so
    // (almost) every save uploads a new blob; now and then an earlier generation is saved
    // again, which takes the deduplicated path (blob already stored).
    const generations = new Map<string, Folder>();
    const history: Record<string, Folder[]> = { big: [], small: [] };
    const generation = async (handle: "big" | "small", n: number, base: Folder) => {
      const dir = join(work, "gen", `${kind}-${n}`);
      await cp(base.dir, dir, { recursive: true });
      await writeFile(join(dir, "generation.txt"), `${kind} ${n} ${SEED}\n`);
      const folder = { name: `${base.name}#${n}`, dir, print: await fingerprint(dir) };
      generations.set(folder.print, folder);
      history[handle]!.push(folder);
      return folder;
    };
    // Initial state (also measures how long a save takes, to spread the kills over it).
    const state: Record<string, string> = {};
    const duration: Record<string, number> = {};
    for (const handle of ["big", "small"] as const) {
      // Save both layouts once: the slower one sets the time the kills are spread over.
      duration[handle] = 0;
      for (const base of [bases[handle][1]!, bases[handle][0]!]) {
        const n = -1 - history.big!.length - history.small!.length;
        const folder = await generation(handle, n, base);
        const { ms } = await runSave(location, folder, handle, {});
        duration[handle] = Math.max(duration[handle]!, ms);
        state[handle] = folder.print;
      }
    }
    state.default = state.small!;
    console.log(
      `[crash-safety] ${kind}: a save takes ~${Math.round(duration.big!)} ms (big), ~${Math.round(duration.small!)} ms (small)`,
    );

    // The schedule: a few kills right after each step of the save, the rest at random times.
    const phaseTrials = Math.min(TRIALS, TRIALS >= 50 ? 2 * PHASES.length : PHASES.length);
    const schedule = Array.from({ length: TRIALS }, (_, i) => ({
      at: i < phaseTrials ? PHASES[i % PHASES.length] : undefined,
      handle: (random() < 0.25 ? "small" : "big") as "big" | "small",
      fraction: random() * 1.2,
      again: random() < 0.15,
    }));
    for (let i = schedule.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
    }

    const counts = {
      killed: 0,
      completed: 0,
      deduplicated: 0,
      handleOld: 0,
      handleNew: 0,
      defaultOld: 0,
      defaultNew: 0,
      orphansRemoved: 0,
      leftovers: 0,
      leftoverBytes: 0,
      tempFoldersLeft: 0,
      tempFoldersSwept: 0,
      pins: 0,
      pinWaits: 0,
      orphanManifests: 0,
      orphanIndex: 0,
    };
    const nameOf = (print: string) => generations.get(print)?.name ?? `unknown(${short(print)})`;
    let foldersBefore: number[] = [];
    let failure: unknown;
    try {
      for (const [i, trial] of schedule.entries()) {
        const current = generations.get(state[trial.handle]!)!;
        const earlier = history[trial.handle]!.filter((g) => g.print !== current.print).at(-1);
        let next: Folder;
        if (trial.again && earlier && !trial.at) {
          next = earlier;
          counts.deduplicated++;
        } else {
          const [first, second] = bases[trial.handle];
          const base = current.name.startsWith(`${first!.name}#`) ? second! : first!;
          next = await generation(trial.handle, i, base);
        }
        const afterMs = trial.at ? undefined : Math.round(trial.fraction * duration[trial.handle]!);
        const what = `trial ${i} (${kind}, seed ${SEED}): save ${next.name} to "${trial.handle}", kill ${trial.at ?? `after ${afterMs} ms`}`;
        const { killed, pid } = await runSave(location, next, trial.handle, {
          afterMs,
          at: trial.at,
        });
        if (killed) counts.killed++;
        else counts.completed++;
        // 0. Temp folders: a save that got as far as making its own temp folder (it finished,
        // or its folder is there) first removed every folder of the earlier, killed saves.
        const folders = await tempFolderPids();
        if (!killed || folders.includes(pid)) {
          expect(
            folders.filter((p) => p !== pid),
            `${what}: temp folders of earlier saves left`,
          ).toEqual([]);
        }
        if (!killed) expect(folders, `${what}: temp folder of a finished save`).not.toContain(pid);
        counts.tempFoldersLeft += folders.filter((p) => p === pid).length;
        counts.tempFoldersSwept += foldersBefore.filter((p) => !folders.includes(p)).length;
        foldersBefore = folders;

        // 1. Every handle is the old or the new checkpoint, loaded whole by loadRemote.
        const seen: Record<string, string> = {};
        for (const handle of ["big", "small", "default"]) {
          const allowed =
            handle === trial.handle || handle === "default"
              ? [state[handle]!, next.print]
              : [state[handle]!];
          const model = await FolderModel.loadRemote({ store, pluginInstanceId: INSTANCE, handle });
          expect(
            allowed.map(nameOf),
            `${what}: "${handle}" holds ${nameOf(model.print ?? "")}`,
          ).toContain(nameOf(model.print ?? ""));
          expect(allowed).toContain(model.print);
          seen[handle] = model.print as string;
        }
        // Publish order: the handle's ref is written before `default`'s.
        if (seen.default === next.print && state.default !== next.print) {
          expect(seen[trial.handle], `${what}: default moved before the handle`).toBe(next.print);
        }
        if (!killed) {
          expect(seen[trial.handle], `${what}: completed save not visible`).toBe(next.print);
          expect(seen.default, `${what}: completed save not default`).toBe(next.print);
        }
        if (seen[trial.handle] === next.print) counts.handleNew++;
        else counts.handleOld++;
        if (seen.default === next.print && state.default !== next.print) counts.defaultNew++;
        else counts.defaultOld++;

        // Now and then, through a fresh disk cache too.
        if (i % 4 === 0) {
          const diskDir = await tempDir("crash-cache");
          const cache = createModelCache({ store, diskDir, logger: {} });
          try {
            const model = await FolderModel.loadRemote({
              store,
              pluginInstanceId: INSTANCE,
              handle: trial.handle,
              cache,
            });
            expect(model.print, `${what}: cached load`).toBe(seen[trial.handle]);
          } finally {
            await cache.close();
            await rm(diskDir, { recursive: true, force: true });
          }
        }

        // 2. gc removes exactly the orphans (once the killed save's pin is stale), and leaves
        // no orphan manifest, index record or pin; every handle still fetches, unchanged.
        if (await outlivePins(store)) counts.pinWaits++;
        const { gc, before } = await collectAndCheck(store, what);
        counts.orphansRemoved += gc.deleted.length;
        counts.leftovers += gc.leftovers.removed;
        counts.leftoverBytes += gc.leftovers.bytes;
        counts.pins += before.pins.length;
        counts.orphanManifests += [...before.manifests.keys()].filter(
          (id) => !before.archives.has(id),
        ).length;
        counts.orphanIndex += before.index.filter(({ id }) => !before.archives.has(id)).length;
        if (location.args.kind === "file") {
          // The temp files of a killed upload are orphans too.
          expect((await tempFiles(location.args.root)).count, `${what}: temp files left`).toBe(0);
        }
        for (const handle of ["big", "small", "default"]) {
          const target = join(work, `fetch-${kind}-${i}-${handle}`);
          await store.fetch({ pluginInstanceId: INSTANCE, handle, target });
          expect(await fingerprint(target), `${what}: "${handle}" after gc`).toBe(seen[handle]);
          await rm(target, { recursive: true, force: true });
        }
        Object.assign(state, seen);
        // Keep the folders of the current handles and the last few generations; drop the rest.
        for (const handle of ["big", "small"]) {
          const list = history[handle]!;
          const live = new Set(Object.values(state));
          for (let k = 0; list.length > 3 && k < list.length; ) {
            if (live.has(list[k]!.print)) k++;
            else await rm(list.splice(k, 1)[0]!.dir, { recursive: true, force: true });
          }
        }
        console.log(
          `[crash-safety] ${kind} #${i}: ${next.name} -> ${trial.handle}, kill ${trial.at ?? `+${afterMs}ms`}: ${killed ? "killed" : "finished"}; ` +
            `${trial.handle}=${nameOf(seen[trial.handle]!)} default=${nameOf(seen.default!)}; gc deleted ${gc.deleted.length}`,
        );
      }
    } catch (error) {
      failure = error;
    }
    let leftovers = `; killed saves left ${counts.tempFoldersLeft} local temp folders, ${counts.tempFoldersSwept} removed by the next save; ${counts.leftovers} leftovers removed (${(counts.leftoverBytes / MIB).toFixed(1)} MiB: temp files of killed uploads, orphan manifests and index records, stale pins; ${counts.pins} pins of killed saves seen, outlived ${counts.pinWaits} times before collecting)`;
    if (location.args.kind === "s3") {
      // Killed multipart uploads are invisible to listings; S3 keeps (and bills) their parts
      // until they are aborted, which is a bucket lifecycle rule's job. Count them, clean up.
      const aborted = await abortMultipartUploads(location.args.settings);
      leftovers += `; ${aborted} incomplete multipart uploads of killed saves left on the server (invisible to listings; expire them with a lifecycle rule), aborted`;
    }
    const outcome =
      `${counts.killed} killed, ${counts.completed} finished before the kill (${counts.deduplicated} re-saves of a stored checkpoint); handle: ${counts.handleOld} old / ${counts.handleNew} new; ` +
      `default: ${counts.defaultOld} old / ${counts.defaultNew} new; gc removed ${counts.orphansRemoved} orphan blobs and no live blob, left no orphan archive, manifest, index record or pin${leftovers}` +
      (failure ? `; FAILED: ${(failure as Error).message.split("\n")[0]}` : "");
    console.log(`[crash-safety] ${kind}: ${outcome}`);
    recordCase({
      id: "crash.sigkill-random",
      method: `child process killed after a seeded delay spread over the save, or at a step of it (${PHASES.join(", ")}; seed ${SEED}); then loadRemote of every handle, gc({minAgeMs:0}) by a store with pinTtlMs ${PIN_TTL_MS} once a killed save's pin is ${PIN_WAIT_MS} ms old, fetch again`,
      backend: kind,
      trials: TRIALS,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }, 1_800_000);
});

/**
 * The steps of a save, killed in turn, with what each must leave behind: before the handle's
 * ref is written nothing changes; after it the handle is new and `default` old until its own
 * ref is written.
 */
const KILL_POINTS: Array<{
  at: (typeof PHASES)[number];
  handle: "old" | "new";
  default: "old" | "new";
}> = [
  { at: "after-archive", handle: "old", default: "old" },
  { at: "after-manifest", handle: "old", default: "old" },
  { at: "after-index", handle: "old", default: "old" },
  { at: "after-ref", handle: "new", default: "old" },
  { at: "before-default", handle: "new", default: "old" },
  { at: "after-default", handle: "new", default: "new" },
];

describe.each(BACKENDS)("crash safety: SIGKILL at each step of a save (%s)", (kind) => {
  let location: Location;
  let store: CheckpointStoreImpl;
  const instance = "kill-points";

  beforeAll(async () => {
    location = await createLocation(kind, "kill-points");
    store = await location.open(WORKSPACE, { pinTtlMs: PIN_TTL_MS });
  });

  afterAll(async () => {
    await store?.close();
    await location?.cleanup();
  });

  it(`each step killed ${KILL_POINTS_PER_STEP}× leaves the exact state it must; gc leaves no orphan; a re-save works`, async () => {
    const count = KILL_POINTS.length * KILL_POINTS_PER_STEP;
    const seen: Record<string, number> = {};
    const totals = { collected: 0, leftovers: 0, pins: 0, resaves: 0 };
    let failure: unknown;
    let n = 0;
    const folderFor = async (label: string) => {
      const dir = await makeFolder(
        join(work, "kp", `${kind}-${label}`),
        { "weights.bin": 1536 * 1024 + n, "sub/table.bin": 40 * 1024, "config.json": 300 },
        `${SEED}-kp-${kind}-${label}`,
      );
      return { name: label, dir, print: await fingerprint(dir) } satisfies Folder;
    };
    const save = async (folder: Folder, killAt?: string) => {
      const run = startChild({
        op: "save",
        backend: location.args,
        workspace: WORKSPACE,
        pluginInstanceId: instance,
        folder: folder.dir,
        handle: "h",
        setAsDefault: true,
        killAt,
      });
      await run.ready;
      run.go();
      return run.exit;
    };
    const load = async (handle: string) =>
      (await FolderModel.loadRemote({ store, pluginInstanceId: instance, handle })).print;
    try {
      let current = await folderFor("initial");
      const first = await save(current);
      expect(outcomeOf(first).event, first.stderr).toBe("done");
      for (let round = 0; round < KILL_POINTS_PER_STEP; round++) {
        for (const point of KILL_POINTS) {
          n++;
          const next = await folderFor(`g${n}`);
          const what = `${kind}, kill ${point.at} (round ${round})`;
          const killed = await save(next, point.at);
          expect(
            killed.signal,
            `${what}: the child must be killed at its hook (${killed.stderr.slice(-500)})`,
          ).toBe("SIGKILL");
          // Exactly the state this step must leave, loaded whole.
          const want = (side: "old" | "new") => (side === "new" ? next.print : current.print);
          expect(await load("h"), `${what}: handle`).toBe(want(point.handle));
          expect(await load("default"), `${what}: default`).toBe(want(point.default));
          // A collection (after the killed save's pin went stale) leaves no orphan.
          if (await outlivePins(store, instance)) totals.pins++;
          const { gc } = await collectAndCheck(store, what, instance);
          totals.collected += gc.deleted.length;
          totals.leftovers += gc.leftovers.removed;
          if (point.handle === "old") {
            expect(gc.deleted, `${what}: the killed save's archive is collected`).toHaveLength(1);
          }
          for (const handle of ["h", "default"]) {
            const target = join(work, `kp-${kind}-${n}-${handle}`);
            await store.fetch({ pluginInstanceId: instance, handle, target });
            expect(await fingerprint(target), `${what}: ${handle} after gc`).toBe(
              handle === "h" ? want(point.handle) : want(point.default),
            );
            await rm(target, { recursive: true, force: true });
          }
          // The same save again, not killed: it completes and both handles move.
          const again = await save(next);
          const outcome = outcomeOf(again);
          expect(outcome.event, `${what}: re-save ${JSON.stringify(outcome)}`).toBe("done");
          totals.resaves++;
          expect(await load("h"), `${what}: handle after the re-save`).toBe(next.print);
          expect(await load("default"), `${what}: default after the re-save`).toBe(next.print);
          const second = await collectAndCheck(store, `${what}, after the re-save`, instance);
          // Doom markers stay until the collection after the one that deleted their blob.
          const justDeleted = new Set(second.gc.deleted.map((key) => blobIdOf(key)));
          expect(
            second.after.doomed.filter((id) => !justDeleted.has(id)),
            `${what}: doom markers of an earlier collection`,
          ).toEqual([]);
          seen[point.at] = (seen[point.at] ?? 0) + 1;
          await rm(current.dir, { recursive: true, force: true });
          current = next;
        }
      }
    } catch (error) {
      failure = error;
    }
    const outcome =
      `${Object.entries(seen)
        .map(([at, k]) => `${at} ×${k}`)
        .join(
          ", ",
        )}: every kill left the exact state of its step (handle and default old before the handle's ref, handle new and default old until the default ref, both new after), both handles loaded whole; ` +
      `gc after each kill removed ${totals.collected} orphan archives (+${totals.leftovers} leftovers; waited out ${totals.pins} killed saves' pins) and left no orphan archive, manifest, index record or pin, nor doom markers after the next collection; ${totals.resaves} re-saves succeeded` +
      (failure ? `; FAILED: ${(failure as Error).message.split("\n")[0]}` : "");
    console.log(`[crash-safety] kill points ${kind}: ${outcome}`);
    recordCase({
      id: "crash.kill-points",
      method: `a child process saves a new ~1.6 MiB folder to "h" (setAsDefault) through a backend wrapper that SIGKILLs it when it writes (or, for before-default, is about to write) the key of that step; then loadRemote of "h" and default, gc({minAgeMs:0}) by a store with pinTtlMs ${PIN_TTL_MS} once the killed save's pin is ${PIN_WAIT_MS} ms old, fetch of both, the same save again, gc again (seed ${SEED})`,
      backend: kind,
      trials: count,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }, 1_800_000);
});
