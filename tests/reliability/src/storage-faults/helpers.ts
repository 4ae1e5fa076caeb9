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
export type BackendArgs =
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

export interface Location {
  kind: BackendKind;
  args: BackendArgs;
  backend(): RemoteBackend;
  open(workspace: string, options?: { refHistory?: number }): Promise<CheckpointStoreImpl>;
  cleanup(): Promise<void>;
}

let counter = 0;

/** A fresh, empty place to store checkpoints on `kind`. */
export async function createLocation(kind: BackendKind, name: string): Promise<Location> {
  let args: BackendArgs;
  let dir: string | undefined;
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
    open: (workspace, options = {}) =>
      createCheckpointStore({ backend: backend(), workspace, ...options }),
    cleanup: async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
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

export const CHILD_SCRIPT = join(import.meta.dirname, "child.mjs");

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
      child.stdin?.end("go\n");
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
