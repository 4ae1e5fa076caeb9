/**
 * Shared helpers of the storage-fault suites (crash safety, concurrency, corruption, scope
 * isolation): seeded randomness, deterministic checkpoint folders, the two backends under
 * test, and a runner for the child processes in `child.mjs`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TrainableModel } from "@trainable/core";
import {
  type CheckpointStoreImpl,
  createCheckpointStore,
  createFileBackend,
  type RemoteBackend,
} from "@trainable/storage";
import { createS3Backend } from "@trainable/storage/s3";
import { getS3TestConfig } from "../../../../tools/s3-server/s3-test-env.js";

export type BackendKind = "file" | "s3";
export const BACKENDS: readonly BackendKind[] = ["file", "s3"];

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** The run's seed: `TRAINABLE_RELIABILITY_SEED`, or a fresh one (printed by each suite). */
export function suiteSeed(suite: string): number {
  const fromEnv = process.env.TRAINABLE_RELIABILITY_SEED;
  const seed =
    fromEnv !== undefined && /^\d+$/.test(fromEnv)
      ? Number(fromEnv) >>> 0
      : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${suite}] seed=${seed} (reproduce with TRAINABLE_RELIABILITY_SEED=${seed})`);
  return seed;
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic checkpoint folders

/** A folder spec: relative path → size in bytes. Content derives from `seed` and the path. */
export type FolderSpec = Record<string, number>;

/** Deterministic pseudo-random bytes (AES-128-CTR keystream): fast, incompressible. */
function bytesFor(seed: string, path: string, size: number): Buffer {
  const key = createHash("sha256").update(`${seed}\0${path}`).digest();
  const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32));
  return cipher.update(Buffer.alloc(size));
}

/** Writes a folder from a spec under `dir` (created), with content seeded by `seed`. */
export async function makeFolder(dir: string, spec: FolderSpec, seed: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [path, size] of Object.entries(spec)) {
    const file = join(dir, ...path.split("/"));
    await mkdir(join(file, ".."), { recursive: true });
    // Written in 4 MiB chunks, so a 60 MiB folder never sits in memory at once.
    const handle = await open(file, "w");
    try {
      const chunk = 4 * 1024 * 1024;
      for (let offset = 0; offset < size; offset += chunk) {
        await handle.write(bytesFor(`${seed}#${offset}`, path, Math.min(chunk, size - offset)));
      }
    } finally {
      await handle.close();
    }
  }
  return dir;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The content of a folder as one comparable string: every regular file's path, size and
 * sha256, sorted. Two folders are equal exactly when their fingerprints are.
 */
export async function fingerprint(dir: string): Promise<string> {
  const rows: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(rel === "" ? dir : join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const file = join(dir, path);
        const hash = await sha256Of(file);
        const { size } = await stat(file);
        rows.push(`${path}\t${size}\t${hash}`);
      } else rows.push(`${path}\t(not a regular file)`);
    }
  }
  await walk("");
  return rows.sort().join("\n");
}

/** A short name for a fingerprint, for messages. */
export function short(print: string): string {
  return createHash("sha256").update(print).digest("hex").slice(0, 10);
}

/**
 * The model of these suites: its whole state is a folder copied from `source` on save; on
 * load it records the fingerprint of the folder it was given (so partial state shows).
 */
export class FolderModel extends TrainableModel {
  source?: string;
  print?: string;

  async saveToFolder(dir: string): Promise<void> {
    if (!this.source) throw new Error("FolderModel has no source folder");
    const { cp } = await import("node:fs/promises");
    await cp(this.source, dir, { recursive: true });
  }

  async loadFromFolder(dir: string): Promise<void> {
    this.print = await fingerprint(dir);
  }

  async train(): Promise<never> {
    throw new Error("FolderModel does not train");
  }
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `trainable-rel-${prefix}-`));
}

// ---------------------------------------------------------------------------------------------
// Backends

/** How a child process opens the same backend (JSON in its arguments). */
type BackendArgs =
  | { kind: "file"; root: string }
  | {
      kind: "s3";
      settings: {
        bucket: string;
        prefix: string;
        endpoint: string;
        region: string;
        forcePathStyle: boolean;
        credentials: { accessKeyId: string; secretAccessKey: string };
      };
    };

/** Store options the suites vary (everything else is the store's default). */
interface OpenOptions {
  refHistory?: number;
  pinTtlMs?: number;
  durable?: boolean;
  /** Default: a folder of this location's own (never the user's ~/.cache). */
  fingerprintCache?: string | false;
  /** Another backend object on the same place (e.g. a `controlled()` wrapper). */
  backend?: RemoteBackend;
}

export interface Location {
  kind: BackendKind;
  args: BackendArgs;
  backend(): RemoteBackend;
  open(workspace: string, options?: OpenOptions): Promise<CheckpointStoreImpl>;
  /** The folder this location's stores remember unchanged folders in. */
  fingerprintDir: string;
  cleanup(): Promise<void>;
}

let counter = 0;

/** A fresh, empty place to store checkpoints on `kind`. */
export async function createLocation(kind: BackendKind, name: string): Promise<Location> {
  let args: BackendArgs;
  let dir: string | undefined;
  const fingerprintDir = await tempDir(`${name}-fingerprints`);
  if (kind === "file") {
    dir = await tempDir(`${name}-store`);
    args = { kind, root: dir };
  } else {
    const s3 = getS3TestConfig();
    args = {
      kind,
      settings: {
        bucket: s3.bucket,
        prefix: `${s3.prefix}${name}-${process.pid}-${++counter}-${Date.now().toString(36)}/`,
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: s3.forcePathStyle,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      },
    };
  }
  const backend = () =>
    args.kind === "file" ? createFileBackend({ root: args.root }) : createS3Backend(args.settings);
  return {
    kind,
    args,
    backend,
    fingerprintDir,
    open: (workspace, { backend: given, ...options } = {}) =>
      createCheckpointStore({
        backend: given ?? backend(),
        workspace,
        fingerprintCache: fingerprintDir,
        ...options,
      }),
    cleanup: async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
      await rm(fingerprintDir, { recursive: true, force: true });
    },
  };
}

/** Every key under `prefix` with its content (sha256), sorted: a snapshot of a scope. */
export async function snapshot(
  backend: RemoteBackend,
  prefix: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const info of backend.list(prefix)) {
    const { body } = await backend.get(info.key);
    const hash = createHash("sha256");
    for await (const chunk of body) hash.update(chunk as Buffer);
    out.set(info.key, hash.digest("hex"));
  }
  return out;
}

export async function readObject(backend: RemoteBackend, key: string): Promise<Buffer> {
  const { body } = await backend.get(key);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// Child processes

const CHILD_SCRIPT = join(import.meta.dirname, "child.mjs");

/** One JSON line a child prints. */
export interface ChildEvent {
  event: string;
  [field: string]: unknown;
}

export interface ChildRun {
  child: ChildProcess;
  /** Resolves once the child printed `{"event":"ready"}` (it then waits for `go()`). */
  ready: Promise<void>;
  /** Releases the child from its start barrier. */
  go(): void;
  /** Releases a child held by `holdAt` (see child.mjs). */
  release(): void;
  /** Resolves when the child printed `event` (rejects when it exits first). */
  waitFor(event: string): Promise<ChildEvent>;
  /** Resolves at exit with everything the child said. */
  exit: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    events: ChildEvent[];
    stderr: string;
  }>;
}

/** Starts `node child.mjs` with `args` (JSON). The child waits at a barrier for `go()`. */
export function startChild(args: Record<string, unknown>): ChildRun {
  const child = spawn(process.execPath, [CHILD_SCRIPT], {
    env: { ...process.env, TRAINABLE_CHILD_ARGS: JSON.stringify(args) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const events: ChildEvent[] = [];
  const waiters: Array<{ event: string; resolve: (e: ChildEvent) => void }> = [];
  let stderr = "";
  let buffered = "";
  child.stdout?.on("data", (data: Buffer) => {
    buffered += data.toString();
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i).trim();
      buffered = buffered.slice(i + 1);
      if (!line.startsWith("{")) continue;
      const event = JSON.parse(line) as ChildEvent;
      events.push(event);
      for (const w of [...waiters]) {
        if (w.event === event.event) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    }
  });
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  child.stdin?.on("error", () => {}); // a killed child closes its stdin
  const exit = new Promise<Awaited<ChildRun["exit"]>>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, events, stderr }));
  });
  const waitFor = (event: string) =>
    new Promise<ChildEvent>((resolve, reject) => {
      const seen = events.find((e) => e.event === event);
      if (seen) return resolve(seen);
      waiters.push({ event, resolve });
      exit.then((r) =>
        reject(
          new Error(
            `child exited (${r.code ?? r.signal}) before "${event}": ${JSON.stringify(r.events.at(-1))} ${r.stderr.slice(-2000)}`,
          ),
        ),
      );
    });
  return {
    child,
    ready: waitFor("ready").then(() => {}),
    go: () => {
      if (child.stdin?.writable) child.stdin.write("go\n");
    },
    release: () => {
      if (child.stdin?.writable) child.stdin.end("release\n");
    },
    waitFor,
    exit,
  };
}

/** Starts children, waits until all are ready, releases them together, and awaits their exits. */
export async function runTogether(argsList: Record<string, unknown>[]) {
  const runs = argsList.map((args) => startChild(args));
  try {
    await Promise.all(runs.map((r) => r.ready));
  } catch (error) {
    for (const r of runs) r.child.kill("SIGKILL");
    throw error;
  }
  for (const r of runs) r.go();
  return Promise.all(runs.map((r) => r.exit));
}

/** The last event of a finished child: `done` with a result, or `error` with a code. */
export function outcomeOf(run: Awaited<ChildRun["exit"]>): ChildEvent {
  const last = run.events.filter((e) => e.event === "done" || e.event === "error").at(-1);
  if (!last) {
    throw new Error(
      `child exited (${run.code ?? run.signal}) without a result: ${run.stderr.slice(-3000)}`,
    );
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// The keys of a scope (store format version 2)

const BLOB_ID = "[0-9a-z]{9}-[0-9a-f]{16}";

/** The blob id of an archive key (`…/blobs/{id}.tar[.gz]`), or undefined. */
export function blobIdOf(archivePath: string): string | undefined {
  return new RegExp(`/blobs/(${BLOB_ID})\\.tar(\\.gz)?$`).exec(archivePath)?.[1];
}

/** Every key of a scope `{workspace}/{pluginInstanceId}/`, sorted by kind. */
export interface Inventory {
  /** blob id → archive key */
  archives: Map<string, string>;
  /** blob id → manifest key */
  manifests: Map<string, string>;
  /** index records: key and the blob id they publish */
  index: Array<{ key: string; id: string }>;
  pins: Array<{ key: string; id: string }>;
  doomed: string[];
  quarantined: string[];
  /** ref versions: key, handle, size (0 = emptied) */
  refs: Array<{ key: string; handle: string; size: number }>;
  /** gc run markers */
  gcRuns: string[];
  /** keys of no known kind (temp files of a killed upload, …) */
  other: string[];
}

export async function inventory(backend: RemoteBackend, scope: string): Promise<Inventory> {
  const inv: Inventory = {
    archives: new Map(),
    manifests: new Map(),
    index: [],
    pins: [],
    doomed: [],
    quarantined: [],
    refs: [],
    gcRuns: [],
    other: [],
  };
  const patterns: Array<[RegExp, (m: RegExpExecArray, key: string, size: number) => void]> = [
    [new RegExp(`^blobs/(${BLOB_ID})\\.tar(\\.gz)?$`), (m, k) => inv.archives.set(m[1]!, k)],
    [new RegExp(`^blobs/(${BLOB_ID})\\.manifest$`), (m, k) => inv.manifests.set(m[1]!, k)],
    [
      new RegExp(`^index/sha256/[0-9a-f]{64}/(${BLOB_ID})\\.json$`),
      (m, k) => inv.index.push({ key: k, id: m[1]! }),
    ],
    [
      new RegExp(`^pins/(${BLOB_ID})/[0-9a-f]{16}\\.json$`),
      (m, k) => inv.pins.push({ key: k, id: m[1]! }),
    ],
    [new RegExp(`^doomed/(${BLOB_ID})\\.json$`), (m) => inv.doomed.push(m[1]!)],
    [new RegExp(`^quarantine/(${BLOB_ID})\\.json$`), (m) => inv.quarantined.push(m[1]!)],
    [
      /^refs\/([^/]+)\/\d{12}\.json$/,
      (m, k, size) => inv.refs.push({ key: k, handle: m[1]!, size }),
    ],
    [/^gc\/[^/]+\.json$/, (_m, k) => inv.gcRuns.push(k)],
  ];
  for await (const info of backend.list(scope)) {
    const rel = info.key.slice(scope.length);
    const hit = patterns.find(([re]) => re.test(rel));
    if (hit) hit[1](hit[0].exec(rel)!, info.key, info.size);
    else inv.other.push(info.key);
  }
  return inv;
}

/**
 * The blob ids named by any stored (non-empty) ref version of a scope: what a collection must
 * keep. Read straight from the keys, so a malformed version shows as an error.
 */
export async function namedBlobs(backend: RemoteBackend, scope: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const info of backend.list(`${scope}refs/`)) {
    if (info.size === 0) continue;
    const json = JSON.parse((await readObject(backend, info.key)).toString("utf8"));
    if (json.deleted === true) continue;
    const id = blobIdOf(json.archivePath);
    if (!id) throw new Error(`ref version ${info.key} names ${json.archivePath}`);
    ids.add(id);
  }
  return ids;
}

/**
 * What is left of a scope that no ref names: archives, manifests, index records and pins of
 * blobs outside `live`, manifests without their archive, and unknown keys. Empty after a
 * collection that missed nothing.
 */
export function orphansOf(inv: Inventory, live: Set<string>): string[] {
  const out: string[] = [];
  for (const [id, key] of inv.archives) if (!live.has(id)) out.push(key);
  for (const [id, key] of inv.manifests) {
    if (!live.has(id) || !inv.archives.has(id)) out.push(key);
  }
  for (const { key, id } of inv.index) if (!live.has(id)) out.push(key);
  for (const { key } of inv.pins) out.push(key);
  out.push(...inv.other);
  return out.sort();
}
