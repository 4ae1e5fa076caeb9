/**
 * Corruption: damage a stored checkpoint (a flipped byte anywhere in the archive, a truncated
 * archive, a deleted archive, a damaged manifest, a ref version that is not JSON or not a
 * ref) and load it through `store.fetch`, `loadRemote` and `loadRemote` with a disk cache:
 * each must fail with an `IntegrityError` naming the damaged key (or handle), leave nothing
 * behind, and never return a model. Then damage a disk-cache entry (flipped byte, truncated
 * file, deleted completion marker, an extra file, a garbage marker): a fresh cache must detect
 * it, re-download, and serve the right model.
 */
import { existsSync } from "node:fs";
import { appendFile, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createModelCache } from "@trainable/cache";
import { IntegrityError } from "@trainable/core";
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
  readObject,
  rng,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("corruption");
const RANDOM_FLIPS = trials(4, 24);
const WORKSPACE = "corrupt-ws";
const HANDLE = "v1";

let work: string;
let source: { dir: string; print: string };

beforeAll(async () => {
  work = await tempDir("corruption");
  const dir = await makeFolder(
    join(work, "src"),
    {
      "weights.bin": 300 * 1024 + 7,
      "nested/deeper/table.bin": 20 * 1024,
      "config.json": 700,
      "empty.txt": 0,
    },
    `${SEED}-corruption`,
  );
  source = { dir, print: await fingerprint(dir) };
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

let instances = 0;

/**
 * A fresh plugin instance holding one checkpoint at `v1`; returns its ref and keys: the
 * archive (`blobs/{id}.tar`), its manifest (`blobs/{id}.manifest`) and the handle's newest ref
 * version (versions count down, so the newest lists first).
 */
async function saved(store: CheckpointStoreImpl, name: string) {
  const pluginInstanceId = `${name}-${++instances}`;
  const model = new FolderModel();
  model.source = source.dir;
  const { ref } = await model.saveRemote({
    store,
    pluginInstanceId,
    handle: HANDLE,
    setAsDefault: false,
  });
  const refKeys: string[] = [];
  for await (const info of store.backend.list(`${WORKSPACE}/${pluginInstanceId}/refs/${HANDLE}/`)) {
    refKeys.push(info.key);
  }
  expect(refKeys, "one ref version").toHaveLength(1);
  return {
    pluginInstanceId,
    ref,
    blobKey: ref.archivePath,
    manifestKey: ref.archivePath.replace(/\.tar(\.gz)?$/, ".manifest"),
    refKey: refKeys[0] as string,
  };
}

/**
 * Loads the damaged checkpoint three ways; each must be an IntegrityError naming `key` and
 * leave no folder behind. Returns the messages seen.
 */
async function expectRefused(
  store: CheckpointStoreImpl,
  pluginInstanceId: string,
  key: string,
  what: string,
): Promise<string[]> {
  const messages: string[] = [];
  const check = async (how: string, attempt: () => Promise<unknown>) => {
    let result: unknown;
    let error: unknown;
    try {
      result = await attempt();
    } catch (e) {
      error = e;
    }
    const label = `${what}, via ${how}`;
    expect(
      error,
      `${label}: loaded ${JSON.stringify((result as FolderModel)?.print)}`,
    ).toBeDefined();
    expect(IntegrityError.isInstance(error), `${label}: ${String(error)}`).toBe(true);
    expect((error as Error).message, `${label}: the message names the key`).toContain(key);
    messages.push((error as Error).message);
  };
  const target = join(work, `target-${pluginInstanceId}`);
  await check("store.fetch", () => store.fetch({ pluginInstanceId, handle: HANDLE, target }));
  expect(existsSync(target), `${what}: fetch left ${target} behind`).toBe(false);
  await check("loadRemote", () =>
    FolderModel.loadRemote({ store, pluginInstanceId, handle: HANDLE }),
  );
  const diskDir = await tempDir("corrupt-cache");
  const cache = createModelCache({ store, diskDir, logger: {} });
  try {
    await check("loadRemote with a disk cache", () =>
      FolderModel.loadRemote({ store, pluginInstanceId, handle: HANDLE, cache }),
    );
    // Nothing was cached as complete.
    const instanceDir = join(diskDir, "v2", WORKSPACE, pluginInstanceId);
    const names = existsSync(instanceDir) ? await readdir(instanceDir) : [];
    expect(
      names.filter((n) => n.endsWith(".complete.json")),
      `${what}: cached`,
    ).toEqual([]);
  } finally {
    await cache.close();
    await rm(diskDir, { recursive: true, force: true });
  }
  return messages;
}

/** `verify` must report exactly that blob as bad, naming the handle that points at it. */
async function expectVerifyFlags(
  store: CheckpointStoreImpl,
  pluginInstanceId: string,
  archiveKey: string,
  what: string,
): Promise<string> {
  const report = await store.verify({ pluginInstanceId });
  expect(
    report.bad.map((b) => [b.archivePath, b.handles]),
    `${what}: verify ${JSON.stringify(report)}`,
  ).toEqual([[archiveKey, [HANDLE]]]);
  expect(report.ok, `${what}: verify ok`).toBe(0);
  return report.bad[0]!.reason;
}

describe.each(BACKENDS)("corruption (%s)", (kind: BackendKind) => {
  let location: Location;
  let store: CheckpointStoreImpl;

  beforeAll(async () => {
    location = await createLocation(kind, "corruption");
    store = await location.open(WORKSPACE);
  });

  afterAll(async () => {
    await store?.close();
    await location?.cleanup();
  });

  /** Runs `body`, records the case (passed or not), rethrows a failure. */
  async function recorded(id: string, method: string, count: number, body: () => Promise<string>) {
    let outcome = "";
    let failure: unknown;
    try {
      outcome = await body();
    } catch (error) {
      failure = error;
      outcome = `FAILED: ${(error as Error).message.split("\n")[0]}`;
    }
    recordCase({
      id,
      method,
      backend: kind,
      trials: count,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }

  it(`a flipped byte anywhere in the blob is refused (seed ${SEED})`, async () => {
    const random = rng(SEED ^ 0x1f11);
    // Fixed spots: the first header's name, size and checksum fields, file data, the padding
    // after a file, and the end-of-archive zeros; then seeded random offsets.
    const probe = await saved(store, "flip-probe");
    const size = probe.ref.size;
    // The first entry of the canonical tar is config.json (700 bytes): header at 0, data from
    // 512, zero padding from 512 + 700 to the next block; the archive ends with 1024 zeros.
    const first = (
      await store.readManifest({ pluginInstanceId: probe.pluginInstanceId, handle: HANDLE })
    ).files[0]!;
    expect(first).toMatchObject({ path: "config.json", size: 700 });
    const padding = 512 + first.size + Math.floor((512 - (first.size % 512)) / 2);
    const offsets = [0, 130, 150, 600, padding, size - 700, size - 1];
    for (let i = 0; i < RANDOM_FLIPS; i++) offsets.push(Math.floor(random() * size));
    await recorded(
      "corruption.flip",
      `XOR 0x01..0xff into one byte of the archive (header name, size and checksum fields, file data, padding, end-of-archive block, last byte, ${RANDOM_FLIPS} seeded random offsets), then store.fetch / loadRemote / loadRemote+cache, then store.verify()`,
      offsets.length,
      async () => {
        const examples: string[] = [];
        for (const offset of offsets) {
          const { pluginInstanceId, blobKey } = await saved(store, "flip");
          const bytes = await readObject(store.backend, blobKey);
          bytes[offset] = (bytes[offset] as number) ^ (1 + Math.floor(random() * 255));
          await store.backend.put(blobKey, bytes);
          const messages = await expectRefused(
            store,
            pluginInstanceId,
            blobKey,
            `byte ${offset} of ${size} flipped`,
          );
          if (examples.length < 3 && offset !== offsets[1]) examples.push(messages[0]!);
          await expectVerifyFlags(store, pluginInstanceId, blobKey, `byte ${offset} flipped`);
        }
        return `IntegrityError naming the archive key at all ${offsets.length} offsets (${offsets.join(", ")} of ${size}), three ways each; nothing extracted or cached; verify() reported each damaged blob with its handle; e.g. "${examples.join('"; "')}"`;
      },
    );
  });

  it("a truncated blob is refused", async () => {
    const cuts = (size: number) => [0, 1, 511, 512, size >> 1, size - 1024, size - 1];
    const probe = await saved(store, "cut-probe");
    const lengths = cuts(probe.ref.size);
    await recorded(
      "corruption.truncate",
      "archive cut to 0, 1, 511, 512 bytes, half, all but the end-of-archive block and all but one byte; store.fetch / loadRemote / loadRemote+cache, then store.verify()",
      lengths.length,
      async () => {
        for (const length of lengths) {
          const { pluginInstanceId, blobKey } = await saved(store, "cut");
          const bytes = await readObject(store.backend, blobKey);
          await store.backend.put(blobKey, bytes.subarray(0, length));
          await expectRefused(
            store,
            pluginInstanceId,
            blobKey,
            `blob truncated to ${length} bytes`,
          );
          await expectVerifyFlags(store, pluginInstanceId, blobKey, `truncated to ${length}`);
        }
        return `IntegrityError naming the archive key for all ${lengths.length} lengths, three ways each; nothing extracted or cached; verify() reported each damaged blob with its handle`;
      },
    );
  });

  it("a deleted blob is refused", async () => {
    await recorded(
      "corruption.deleted",
      "the archive deleted under a live ref (its manifest kept); store.fetch / loadRemote / loadRemote+cache, then store.verify()",
      1,
      async () => {
        const { pluginInstanceId, blobKey } = await saved(store, "gone");
        await store.backend.delete(blobKey);
        const messages = await expectRefused(store, pluginInstanceId, blobKey, "archive deleted");
        const reason = await expectVerifyFlags(store, pluginInstanceId, blobKey, "archive deleted");
        return `IntegrityError naming the missing archive key, three ways ("${messages[0]}"); verify() reports it ("${reason}")`;
      },
    );
  });

  it("a damaged manifest is refused", async () => {
    const damages: Array<[string, (bytes: Buffer) => Buffer | undefined]> = [
      [
        "a flipped byte",
        (bytes) => {
          const out = Buffer.from(bytes);
          out[10] = (out[10] as number) ^ 0x01;
          return out;
        },
      ],
      ["truncated by one byte", (bytes) => bytes.subarray(0, bytes.length - 1)],
      ["deleted", () => undefined],
      [
        "a line changed, size kept",
        (bytes) => Buffer.from(bytes.toString("utf8").replace(/"size":700,/, '"size":701,')),
      ],
    ];
    await recorded(
      "corruption.manifest",
      `the archive's manifest (blobs/{id}.manifest) gets ${damages.map(([n]) => n).join(" / ")}; then store.fetch / loadRemote / loadRemote+cache, then store.verify()`,
      damages.length,
      async () => {
        const seen: string[] = [];
        for (const [name, damage] of damages) {
          const { pluginInstanceId, manifestKey, blobKey } = await saved(store, "manifest");
          const bytes = await readObject(store.backend, manifestKey);
          const damaged = damage(bytes);
          await store.backend.delete(manifestKey);
          if (damaged) {
            if (name === "a line changed, size kept") expect(damaged.length).toBe(bytes.length);
            await store.backend.put(manifestKey, damaged);
          }
          // The archive and the manifest are checked side by side: either may be the first
          // to disagree, so the message names the blob's manifest or its archive key.
          const blob = blobKey.replace(/\.tar(\.gz)?$/, ".");
          const messages = await expectRefused(store, pluginInstanceId, blob, `manifest ${name}`);
          await expectVerifyFlags(store, pluginInstanceId, blobKey, `manifest ${name}`);
          seen.push(`${name}: "${messages[0]}"`);
        }
        return `IntegrityError naming the blob (its manifest or archive key, blobs/{id}.*) for all ${damages.length} damages, three ways each; nothing extracted or cached; verify() reported each damaged blob with its handle (${seen.join("; ")})`;
      },
    );
  });

  it("a malformed ref is refused", async () => {
    const other = `sha256:${"ab".repeat(32)}`;
    const bad: Array<
      [string, (ref: Record<string, unknown>) => string, "key" | "handle" | "manifest"]
    > = [
      ["not JSON", () => "{ this is not json", "key"],
      ["empty", () => "", "key"],
      ["JSON, not an object", () => "[1, 2, 3]", "key"],
      ["JSON null", () => "null", "key"],
      [
        "missing fields",
        (ref) => JSON.stringify({ formatVersion: 2, handle: ref.handle, digest: ref.digest }),
        "key",
      ],
      ["wrong digest format", (ref) => JSON.stringify({ ...ref, digest: "md5:abc" }), "key"],
      ["wrong types", (ref) => JSON.stringify({ ...ref, size: "300", fileCount: {} }), "key"],
      ["unknown formatVersion", (ref) => JSON.stringify({ ...ref, formatVersion: 3 }), "key"],
      [
        "a digest its manifest does not have",
        (ref) => JSON.stringify({ ...ref, digest: other }),
        "manifest",
      ],
      [
        "counts its manifest does not have",
        (ref) => JSON.stringify({ ...ref, fileCount: (ref.fileCount as number) + 1 }),
        "handle",
      ],
      ["another handle's name", (ref) => JSON.stringify({ ...ref, handle: "someone-else" }), "key"],
    ];
    await recorded(
      "corruption.malformed-ref",
      `the handle's newest (only) ref version overwritten with: ${bad.map(([name]) => name).join(", ")}`,
      bad.length,
      async () => {
        const named: string[] = [];
        for (const [name, make, names] of bad) {
          const { pluginInstanceId, refKey, manifestKey } = await saved(store, "badref");
          const original = JSON.parse((await readObject(store.backend, refKey)).toString("utf8"));
          await store.backend.put(refKey, Buffer.from(make(original)));
          const key =
            names === "key"
              ? refKey
              : names === "manifest"
                ? manifestKey
                : `handle "${HANDLE}" of ${WORKSPACE}/${pluginInstanceId}`;
          const messages = await expectRefused(store, pluginInstanceId, key, `ref ${name}`);
          named.push(`${name}: "${messages[0]}"`);
        }
        return `IntegrityError naming the ref key (or, when the ref is well-formed but disagrees with its manifest, the manifest key or the handle) for all ${bad.length} kinds, three ways each: ${named.join("; ")}`;
      },
    );
  });

  it("a tampered disk-cache entry is repaired, never served", async () => {
    const tampers: Array<[string, (entry: string, marker: string) => Promise<void>]> = [
      [
        "a flipped byte in a cached file",
        async (entry) => {
          const file = join(entry, "weights.bin");
          const bytes = await readFile(file);
          bytes[1234] = (bytes[1234] as number) ^ 0x40;
          await writeFile(file, bytes);
        },
      ],
      ["a truncated cached file", (entry) => truncate(join(entry, "nested/deeper/table.bin"), 100)],
      ["the completion marker deleted", async (_entry, marker) => rm(marker)],
      ["an extra file", (entry) => writeFile(join(entry, "nested", "intruder.bin"), "x")],
      ["a cached file deleted", (entry) => rm(join(entry, "config.json"))],
      ["a garbage completion marker", (_entry, marker) => appendFile(marker, "garbage")],
    ];
    await recorded(
      "corruption.cache-tamper",
      `a model cache on disk (store on ${kind}); after a cached load, the entry gets ${tampers.map(([n]) => n).join(" / ")}; then loadRemote through a fresh cache instance, and once more`,
      tampers.length,
      async () => {
        for (const [name, tamper] of tampers) {
          const { pluginInstanceId, ref } = await saved(store, "tamper");
          const diskDir = await tempDir("tamper-cache");
          const load = async () => {
            const cache = createModelCache({ store, diskDir, logger: {} });
            try {
              const model = await FolderModel.loadRemote({
                store,
                pluginInstanceId,
                handle: HANDLE,
                cache,
              });
              return { print: model.print, stats: cache.stats() };
            } finally {
              await cache.close();
            }
          };
          try {
            const first = await load();
            expect(first.print).toBe(source.print);
            const hex = ref.digest.slice("sha256:".length);
            const base = join(diskDir, "v2", WORKSPACE, pluginInstanceId);
            await tamper(join(base, hex), join(base, `${hex}.complete.json`));
            const repaired = await load();
            expect(repaired.print, `${name}: wrong model served`).toBe(source.print);
            expect(repaired.stats.repairs, `${name}: repairs`).toBeGreaterThanOrEqual(1);
            expect(repaired.stats.downloads, `${name}: re-download`).toBe(1);
            const again = await load();
            expect(again.print).toBe(source.print);
            expect(again.stats, `${name}: the repaired entry is good`).toMatchObject({
              downloads: 0,
              repairs: 0,
              diskHits: 1,
            });
          } finally {
            await rm(diskDir, { recursive: true, force: true });
          }
        }
        return `all ${tampers.length} tamperings detected: 1 repair + 1 re-download each, right model, the next cache hits disk`;
      },
    );
  });
});
