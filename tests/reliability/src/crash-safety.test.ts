/**
 * Crash safety: `saveRemote` runs in a child process that is SIGKILLed at a random moment of the
 * save (seeded delays spread over its measured duration) or right after a chosen step (an env
 * hook in child.mjs). Saves alternate between two folders per handle, with setAsDefault. After
 * every kill, every handle must resolve to a complete checkpoint (the old or the new one, never
 * anything else), `loadRemote` must return exactly one of the two folders, and `gc` must delete
 * exactly the orphan blobs and no blob a ref version points at.
 */
import { cp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
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
  createLocation,
  FolderModel,
  fingerprint,
  type Location,
  makeFolder,
  outcomeOf,
  rng,
  short,
  startChild,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("crash-safety");
const TRIALS = trials(10, 50);
const PHASES = ["mid-upload", "after-blob", "after-sidecar", "after-ref", "after-default"] as const;
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

async function blobKeys(store: CheckpointStoreImpl): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const info of store.backend.list(`${WORKSPACE}/${INSTANCE}/blobs/sha256/`)) {
    if (/\.tar(\.gz)?$/.test(info.key)) keys.add(info.key);
  }
  return keys;
}

/** Every blob a retained ref version (current or history) points at. */
async function referencedBlobs(store: CheckpointStoreImpl): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const ref of await store.list({ pluginInstanceId: INSTANCE })) {
    for (const version of await store.history({ pluginInstanceId: INSTANCE, handle: ref.handle })) {
      keys.add(version.archivePath);
    }
  }
  return keys;
}

/** Runs one save in a child; with `killAfterMs` or `killAt`, kills it. Returns what happened. */
async function runSave(
  location: Location,
  folder: Folder,
  handle: string,
  kill: { afterMs?: number; at?: string },
): Promise<{ killed: boolean; ms: number }> {
  const run = startChild({
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
  if (exit.signal === "SIGKILL") return { killed: true, ms: performance.now() - started };
  const outcome = outcomeOf(exit);
  if (outcome.event !== "done") throw new Error(`save failed: ${JSON.stringify(outcome)}`);
  return { killed: false, ms: outcome.ms as number };
}

describe.each(BACKENDS)("crash safety: SIGKILL during saveRemote (%s)", (kind: BackendKind) => {
  let location: Location;
  let store: CheckpointStoreImpl;

  beforeAll(async () => {
    location = await createLocation(kind, "crash");
    store = await location.open(WORKSPACE);
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
    const phaseTrials = Math.min(TRIALS, TRIALS >= 50 ? 10 : 5);
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
      tempsRemoved: 0,
      tempBytes: 0,
    };
    const nameOf = (print: string) => generations.get(print)?.name ?? `unknown(${short(print)})`;
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
        const { killed } = await runSave(location, next, trial.handle, { afterMs, at: trial.at });
        if (killed) counts.killed++;
        else counts.completed++;

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

        // 2. gc removes exactly the orphans; every handle still fetches, unchanged.
        const blobs = await blobKeys(store);
        const live = await referencedBlobs(store);
        const orphans = [...blobs].filter((key) => !live.has(key)).sort();
        const gc = await store.gc({ pluginInstanceId: INSTANCE, minAgeMs: 0 });
        expect([...gc.deleted].sort(), `${what}: gc deleted`).toEqual(orphans);
        counts.orphansRemoved += gc.deleted.length;
        counts.tempsRemoved += gc.leftovers.removed;
        counts.tempBytes += gc.leftovers.bytes;
        if (location.args.kind === "file") {
          // The temp files of a killed upload are orphans too.
          expect((await tempFiles(location.args.root)).count, `${what}: temp files left`).toBe(0);
        }
        const after = await blobKeys(store);
        expect([...after].sort(), `${what}: blobs after gc`).toEqual([...live].sort());
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
    let leftovers = "";
    if (location.args.kind === "file") {
      leftovers = `, and ${counts.tempsRemoved} temp files of killed uploads (${(counts.tempBytes / MIB).toFixed(1)} MiB)`;
    } else {
      // Killed multipart uploads are invisible to listings; S3 keeps (and bills) their parts
      // until they are aborted, which is a bucket lifecycle rule's job. Count them, clean up.
      const aborted = await abortMultipartUploads(location.args.settings);
      leftovers = `; ${aborted} incomplete multipart uploads of killed saves left on the server (invisible; expire them with a lifecycle rule), aborted`;
    }
    const outcome =
      `${counts.killed} killed, ${counts.completed} finished before the kill (${counts.deduplicated} re-saves of a stored checkpoint); handle: ${counts.handleOld} old / ${counts.handleNew} new; ` +
      `default: ${counts.defaultOld} old / ${counts.defaultNew} new; gc removed ${counts.orphansRemoved} orphan blobs, no live blob${leftovers}` +
      (failure ? `; FAILED: ${(failure as Error).message.split("\n")[0]}` : "");
    console.log(`[crash-safety] ${kind}: ${outcome}`);
    recordCase({
      area: "crash safety",
      case: "SIGKILL at a random point of saveRemote (24-38 MiB and 60 KiB folders, alternating, setAsDefault)",
      method: `child process killed after a seeded delay spread over the save, or right after upload-half/blob/sidecar/ref/default (seed ${SEED}); then loadRemote of every handle, gc({minAgeMs:0}), fetch again`,
      backend: kind,
      trials: TRIALS,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }, 1_800_000);
});
