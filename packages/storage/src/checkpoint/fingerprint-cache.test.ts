import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, realpath, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { walkFolder } from "../archive/walk-folder.js";
import { createMemoryBackend } from "../backends/memory/memory-backend.js";
import { controlled } from "./__fixtures__/controlled-backend.js";
import { createCheckpointStore } from "./create-checkpoint-store.js";
import { createFingerprintCache } from "./fingerprint-cache.js";

// Every file-system call the main thread makes with a path, recorded: which of them touch the
// files of a folder being saved (the reader worker's calls are not seen here).
const { touched } = vi.hoisted(() => ({ touched: [] as string[] }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  const spied = { ...actual } as Record<string, unknown>;
  for (const name of ["lstat", "stat", "open", "readFile"] as const) {
    const original = actual[name] as (...args: unknown[]) => unknown;
    spied[name] = (...args: unknown[]) => {
      touched.push(`${name} ${String(args[0])}`);
      return original(...args);
    };
  }
  return { ...spied, default: spied };
});
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  const spied = {
    ...actual,
    createReadStream: (...args: Parameters<typeof actual.createReadStream>) => {
      touched.push(`createReadStream ${String(args[0])}`);
      return actual.createReadStream(...args);
    },
  };
  return { ...spied, default: spied };
});

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "fingerprints-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Small files, and one large enough to go through the reader's ring and the hash worker. */
async function folderOf(count: number): Promise<string> {
  const folder = await mkdtemp(join(work, "src-"));
  for (let i = 0; i < count; i++) {
    const path = join(folder, `d${i % 7}`, `f${i}.bin`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, randomBytes(100 + (i % 500)));
  }
  await writeFile(join(folder, "large.bin"), randomBytes(3 * 1024 * 1024 + 17));
  await sleep(30); // past the filesystem clock's tick: remembered (as unsettled: ctime < 35 s)
  return folder;
}

type Row = [string, string, string, string, string, string, string, 0 | 1];

/** The cache file of `folder`, to read or doctor (`fingerprints/{sha256 of its real path}.json`). */
async function cacheFile(dir: string, folder: string) {
  const file = join(
    dir,
    `${createHash("sha256")
      .update(await realpath(folder))
      .digest("hex")}.json`,
  );
  const read = async () => JSON.parse(await readFile(file, "utf8")) as { rows: Row[] };
  return {
    read,
    async edit(change: (row: Row) => void) {
      const parsed = await read();
      for (const row of parsed.rows) change(row);
      await writeFile(file, JSON.stringify(parsed));
    },
  };
}

const sha256Of = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

describe("fingerprint cache: files not settled are read again, as fast as a save reads them", () => {
  it("re-hashes them on the reader worker: a re-save opens and reads no file of the folder on the main thread, and uploads 0 bytes", async () => {
    const rec = controlled(createMemoryBackend());
    const store = await createCheckpointStore({
      backend: rec.backend,
      workspace: "ws",
      fingerprintCache: join(work, "fp-store"),
    });
    const folder = await folderOf(300);
    const first = await store.save({ pluginInstanceId: "p", handle: "h", folder });
    expect(first.uploadedBytes).toBeGreaterThan(3 * 1024 * 1024);
    // Just written: every file is remembered unsettled, so the re-save reads them all again.
    const rows = (await (await cacheFile(join(work, "fp-store"), folder)).read()).rows;
    expect(rows.filter((row) => row[7] === 0)).toHaveLength(301);
    touched.length = 0;
    rec.reset();
    const again = await store.save({ pluginInstanceId: "p", handle: "h2", folder });
    // Stamps are compared here (lstat); contents are read on the worker only.
    const inFolder = touched.filter(
      (call) => !call.startsWith("lstat ") && call.split(" ")[1]!.startsWith(`${folder}/`),
    );
    expect({
      uploadedBytes: again.uploadedBytes,
      bytesPut: rec.bytesPut((k) => k.includes("/blobs/")),
      digest: again.ref.digest,
      mainThreadCallsOnFiles: inFolder.length,
    }).toEqual({
      uploadedBytes: 0,
      bytesPut: 0,
      digest: first.ref.digest,
      mainThreadCallsOnFiles: 0,
    });
  });

  it("never trusts a remembered hash of a file that was not settled: it is read again, small or large", async () => {
    const dir = join(work, "fp-unsettled");
    const store = await createCheckpointStore({
      backend: createMemoryBackend(),
      workspace: "ws",
      fingerprintCache: dir,
    });
    const folder = await folderOf(20);
    await store.save({ pluginInstanceId: "p", handle: "h", folder });
    // As if each file had changed without moving its stamp (a write through a shared mapping).
    const cache = await cacheFile(dir, folder);
    await cache.edit((row) => {
      row[6] = "0".repeat(64);
    });
    const entries = await walkFolder({ folder });
    const known = await createFingerprintCache(dir).lookup(folder, entries);
    const actual = await Promise.all(
      entries
        .filter((e) => e.type === "file")
        .map(async (e) => ({ type: "file", path: e.path, sha256: await sha256Of(e.abs) })),
    );
    expect(known?.filter((e) => e.type === "file")).toEqual(
      actual.map((e) => expect.objectContaining(e)),
    );
    // …and remembers what it read.
    expect((await cache.read()).rows.some((row) => row[6] === "0".repeat(64))).toBe(false);
  });

  it("trusts a settled file by its stamp without reading it", async () => {
    const dir = join(work, "fp-settled");
    const store = await createCheckpointStore({
      backend: createMemoryBackend(),
      workspace: "ws",
      fingerprintCache: dir,
    });
    const folder = await folderOf(5);
    await store.save({ pluginInstanceId: "p", handle: "h", folder });
    const cache = await cacheFile(dir, folder);
    await cache.edit((row) => {
      if (row[0] === "large.bin") {
        row[6] = "1".repeat(64); // not what it holds: shows whether it was read
        row[7] = 1;
      }
    });
    const known = await createFingerprintCache(dir).lookup(folder, await walkFolder({ folder }));
    expect(known?.find((e) => e.path === "large.bin")).toMatchObject({ sha256: "1".repeat(64) });
  });

  it("a file changed, gone or replaced since it was remembered: the folder is not known unchanged", async () => {
    const dir = join(work, "fp-changed");
    const store = await createCheckpointStore({
      backend: createMemoryBackend(),
      workspace: "ws",
      fingerprintCache: dir,
    });
    const lookup = async (folder: string, entries?: Awaited<ReturnType<typeof walkFolder>>) =>
      createFingerprintCache(dir).lookup(folder, entries ?? (await walkFolder({ folder })));

    const rewritten = await folderOf(10);
    await store.save({ pluginInstanceId: "p", handle: "a", folder: rewritten });
    expect(await lookup(rewritten)).toBeDefined();
    await writeFile(join(rewritten, "d3", "f3.bin"), "same size? no matter: its ctime moved");
    expect(await lookup(rewritten)).toBeUndefined();

    const vanished = await folderOf(10);
    await store.save({ pluginInstanceId: "p", handle: "b", folder: vanished });
    const listed = await walkFolder({ folder: vanished });
    await unlink(join(vanished, "large.bin")); // between the walk and the lookup
    expect(await lookup(vanished, listed)).toBeUndefined();

    const settled = await folderOf(10);
    await store.save({ pluginInstanceId: "p", handle: "c", folder: settled });
    await (await cacheFile(dir, settled)).edit((row) => {
      row[7] = 1;
    });
    const before = await walkFolder({ folder: settled });
    await unlink(join(settled, "d1", "f1.bin"));
    await mkdir(join(settled, "d1", "f1.bin")); // a directory where a settled file was
    expect(await lookup(settled, before)).toBeUndefined();
  });
});
