/**
 * Large checkpoints: a folder of 500,000 small files (20,000 with CI counts) on a `file:`
 * store. It must save (and re-save unchanged without uploading), load whole (a seeded sample of
 * files compared byte for byte, every file counted), list, prune and be collected, and every
 * ref version must stay a small pointer (under 1 KiB) however many files the checkpoint holds.
 *
 * This case alone opens its store with `durable: false` (no fsync of each extracted file):
 * it measures scale, not crash durability, and half a million fsyncs would dominate the run.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { CheckpointStoreImpl } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FULL, recordCase, trials } from "./report.js";
import {
  blobIdOf,
  createLocation,
  inventory,
  type Location,
  rng,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("large-checkpoints");
const FILES = trials(20_000, 500_000);
const PER_SHARD = 1000;
const SHARDS = Math.ceil(FILES / PER_SHARD);
const SAMPLE = 2000;
const WORKSPACE = "large-ws";
const INSTANCE = "many-files";
const MAX_REF_BYTES = 1024;

let work: string;
let folder: string;
const content = (i: number) => `file ${i} of ${FILES} (${SEED})\n`;
const pathOf = (i: number) => `shard-${String(i % SHARDS).padStart(4, "0")}/f-${i}.txt`;

async function pool<T>(items: number, limit: number, task: (i: number) => Promise<T>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items) await task(next++);
    }),
  );
}

beforeAll(async () => {
  work = await tempDir("large");
  folder = join(work, "src");
  for (let s = 0; s < SHARDS; s++) {
    await mkdir(join(folder, `shard-${String(s).padStart(4, "0")}`), { recursive: true });
  }
  await pool(FILES, 64, (i) => writeFile(join(folder, pathOf(i)), content(i)));
  // Past the filesystem clock's tick: the save then remembers these files as settled.
  await sleep(50);
}, 1_800_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("large checkpoints (file)", () => {
  let location: Location;
  let store: CheckpointStoreImpl;

  beforeAll(async () => {
    location = await createLocation("file", "large");
    store = await location.open(WORKSPACE, { durable: false, refHistory: 2 });
  });

  afterAll(async () => {
    await store?.close();
    await location?.cleanup();
  });

  /** Every ref version of the instance with its size; each must be under 1 KiB. */
  async function refSizes(): Promise<Array<[string, number]>> {
    const inv = await inventory(store.backend, `${WORKSPACE}/${INSTANCE}/`);
    const sizes = inv.refs.map((r) => [r.key, r.size] as [string, number]);
    for (const [key, size] of sizes) expect(size, key).toBeLessThan(MAX_REF_BYTES);
    return sizes;
  }

  it(`a folder of ${FILES.toLocaleString("en-US")} files: save, load, list, prune, collect; every ref version < 1 KiB`, async () => {
    const times: Record<string, number> = {};
    const timed = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await body();
      } finally {
        times[name] = Math.round(performance.now() - t0);
      }
    };
    let outcome = "";
    let failure: unknown;
    try {
      const saved = await timed("save", () =>
        store.save({ pluginInstanceId: INSTANCE, handle: "big", folder }),
      );
      expect(saved.ref.fileCount).toBe(FILES);
      expect(saved.ref.directoryCount).toBe(SHARDS);
      let largestRef = Math.max(...(await refSizes()).map(([, size]) => size));

      // Unchanged: known from lstat alone, nothing uploaded.
      const again = await timed("re-save unchanged", () =>
        store.save({
          pluginInstanceId: INSTANCE,
          handle: "big-again",
          folder,
          setAsDefault: false,
        }),
      );
      expect(again.uploadedBytes).toBe(0);
      expect(again.ref.archivePath).toBe(saved.ref.archivePath);

      const manifest = await timed("readManifest", () =>
        store.readManifest({ pluginInstanceId: INSTANCE, handle: "big" }),
      );
      expect(manifest.files).toHaveLength(FILES);
      expect(manifest.directories).toHaveLength(SHARDS);

      // Load it whole: count everything, compare a seeded sample byte for byte.
      const target = join(work, "loaded");
      await timed("load (fetch)", () =>
        store.fetch({ pluginInstanceId: INSTANCE, handle: "big", target }),
      );
      const names = await readdir(target, { recursive: true });
      expect(names.length, "files + directories loaded").toBe(FILES + SHARDS);
      const random = rng(SEED);
      const sample = [
        0,
        FILES - 1,
        ...Array.from({ length: SAMPLE }, () => Math.floor(random() * FILES)),
      ];
      for (const i of sample) {
        expect(await readFile(join(target, pathOf(i)), "utf8"), pathOf(i)).toBe(content(i));
      }
      await timed("remove the loaded copy", () => rm(target, { recursive: true, force: true }));

      const listed = await timed("list", () => store.list({ pluginInstanceId: INSTANCE }));
      expect(listed.map((r) => r.handle)).toEqual(["big", "big-again", "default"]);

      // Prune every handle but default; move default on twice (refHistory 2): then nothing
      // names the big checkpoint and a collection deletes it — archive, manifest and index record.
      await store.save({
        pluginInstanceId: INSTANCE,
        handle: "small",
        folder: join(folder, "shard-0000"),
      });
      const pruned = await timed("prune", () =>
        store.prune({ pluginInstanceId: INSTANCE, keepLast: 0 }),
      );
      expect(pruned.deleted.sort()).toEqual(["big", "big-again", "small"]);
      for (const shard of ["shard-0001", "shard-0002"]) {
        await store.save({
          pluginInstanceId: INSTANCE,
          handle: "last",
          folder: join(folder, shard),
        });
      }
      const gc = await timed("gc", () => store.gc({ pluginInstanceId: INSTANCE, minAgeMs: 0 }));
      expect(gc.deleted).toContain(saved.ref.archivePath);
      const inv = await inventory(store.backend, `${WORKSPACE}/${INSTANCE}/`);
      const bigId = blobIdOf(saved.ref.archivePath)!;
      expect(inv.archives.has(bigId), "archive collected").toBe(false);
      expect(inv.manifests.has(bigId), "manifest collected").toBe(false);
      expect(
        inv.index.filter((r) => r.id === bigId),
        "index record collected",
      ).toEqual([]);
      const sizes = await refSizes();
      largestRef = Math.max(largestRef, ...sizes.map(([, size]) => size));
      outcome =
        `saved ${FILES.toLocaleString("en-US")} files in ${SHARDS} directories (archive ${(saved.ref.size / 1024 ** 2).toFixed(1)} MiB, manifest ${(saved.ref.manifestSize / 1024 ** 2).toFixed(1)} MiB); ` +
        `re-save of the unchanged folder uploaded 0 bytes; readManifest listed all; the load created all ${(FILES + SHARDS).toLocaleString("en-US")} entries and ${sample.length} sampled files matched byte for byte; ` +
        `list, prune (3 handles) and gc (its archive, manifest and index record removed) worked; ${sizes.length} ref versions at the end, the largest ref version ever ${largestRef} bytes (< 1 KiB); ` +
        `times: ${Object.entries(times)
          .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
          .join(", ")}`;
    } catch (error) {
      failure = error;
      outcome = `FAILED: ${(error as Error).message.split("\n")[0]}; times so far: ${JSON.stringify(times)}`;
    }
    console.log(`[large-checkpoints] ${outcome}`);
    recordCase({
      id: "large-checkpoints.many-files",
      method: `${FULL ? "full counts" : "CI counts"}: ${FILES.toLocaleString("en-US")} files of ~30 bytes in ${SHARDS} directories on a file: store opened with durable: false (this case only: no fsync per extracted file) and refHistory 2: save, re-save unchanged, readManifest, fetch (all entries counted, ${SAMPLE + 2} seeded files compared), list, prune({keepLast: 0}), two saves moving default, gc({minAgeMs: 0}); every ref version's size checked after the save and at the end (seed ${SEED})`,
      backend: "file",
      trials: 1,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }, 3_600_000);
});
