/**
 * Scope isolation: a store for workspace/instance A and stores for other scopes B on the same
 * backend. Whatever ids, handles and refs B is given (fast-check: `../`, `..`, `%2e%2e`, `/`,
 * `\`, NUL, unicode, very long strings, A's own ids, valid ids that are near-misses of A's,
 * A's refs and refs forged to point into A), B can never read, list, overwrite or delete A's
 * keys. Every run snapshots every key (and its content) before and after a batch of hostile
 * operations by B: each operation either fails with a ValidationError / NotFoundError (or an
 * IntegrityError refusing a foreign ref) or stays inside B's scope — every key it created
 * starts with `{B's workspace}/{B's instance}/`, and everything it read back is B's own.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type CheckpointRef,
  IntegrityError,
  NotFoundError,
  type TrainableError,
  ValidationError,
} from "@trainable/core";
import {
  type CheckpointStoreImpl,
  createCheckpointStore,
  createFileBackend,
  createMemoryBackend,
  type RemoteBackend,
} from "@trainable/storage";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordCase, trials } from "./report.js";
import {
  createLocation,
  FolderModel,
  fingerprint,
  type Location,
  makeFolder,
  snapshot,
  suiteSeed,
  tempDir,
} from "./storage-faults/helpers.js";

const SEED = suiteSeed("scope-isolation");
const RUNS = trials(200, 1000);
const A = { workspace: "team-a", instance: "inst-a" };
const A_PREFIX = `${A.workspace}/${A.instance}/`;
const A_HANDLES = ["default", "v1", "secret"];
/** A's instance, and a neighbour in A's workspace that A also owns. */
const A_INSTANCES = [A.instance, `${A.instance}.b`];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

let work: string;
let folderA: string;
let folderB: string;
let printB: string;

beforeAll(async () => {
  work = await tempDir("scope");
  folderA = await makeFolder(join(work, "a"), { "secret.bin": 4096, "a.txt": 100 }, `${SEED}-A`);
  folderB = await makeFolder(join(work, "b"), { "b.bin": 2048 }, `${SEED}-B`);
  printB = await fingerprint(folderB);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Hostile strings

const HOSTILE = [
  "",
  ".",
  "..",
  "../",
  "./",
  "/",
  "\\",
  "..\\",
  "%2e%2e",
  "%2e%2e%2f",
  "%2E%2E/",
  "..%2f",
  "\0",
  "a\0b",
  `${A.instance}\0`,
  `${A.workspace}/${A.instance}`,
  `../${A.workspace}/${A.instance}`,
  `../../${A.workspace}`,
  `${A.instance}/..`,
  `${A.instance}/`,
  `/${A.instance}`,
  `${A.instance}\\..`,
  `${A.instance}%2f..`,
  ` ${A.instance}`,
  `${A.instance} `,
  `${A.instance}\n`,
  `${A.instance}\r\n`,
  "ｉｎｓｔ-ａ",
  "inst‐a", // U+2010 hyphen
  "é",
  "🙂",
  "\u202e",
  "a".repeat(128),
  "a".repeat(129),
  "x".repeat(10_000),
  "refs",
  "blobs",
  "gc",
  "index",
  "pins",
  "doomed",
  "quarantine",
  "_trainable-store.json",
  `${A.instance}/refs/v1`,
  "refs/../../inst-a",
  ".~tmp.0",
  ".~lock.x",
  "-x",
  "_x",
  ".hidden",
  "a/b",
  "a//b",
  "C:\\x",
  "c:",
  "~",
  "$HOME",
  "*",
  "?",
  "#",
  "sha256:00",
];
/** Valid ids that are near-misses of A's, and A's own. */
const NEAR = [
  A.workspace,
  A.instance,
  ...A_HANDLES,
  `${A.instance}.`,
  `${A.instance}-`,
  `${A.instance}.b`,
  `${A.instance}_`,
  "INST-A",
  "Inst-a",
  "team-a.",
  "team-a-",
  "team",
  "inst",
  "default.",
  "v1.json",
  "v1..",
  "secret.",
  "000000000000.json",
  "999999999999.json",
];

const anyString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 4, arbitrary: fc.constantFrom(...NEAR) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...NEAR, ...HOSTILE),
        fc.constantFrom("", "/", "\\", "/..", "%2f", "\0", ".", "/x"),
      )
      .map(([a, b]) => a + b),
  },
  { weight: 1, arbitrary: fc.nat({ max: 300 }).map((n) => "a".repeat(n)) },
);

/** An id that is usually valid (so operations reach storage), otherwise hostile. */
const mostlyValid = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NEAR, "inst-b", "team-b", "b") },
  { weight: 1, arbitrary: anyString },
);

/** Handles: often a few valid ones (A's, and ones B saves to), otherwise anything. */
const handleArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...A_HANDLES, "b1", "v1.", `${A.instance}`) },
  { weight: 2, arbitrary: anyString },
);

/** `null`: the run's own instance for B (most operations), else another generated one. */
const instanceArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: mostlyValid },
);

type RefSource = "own" | "A's" | "forged-traversal" | "forged-other-scope" | "forged-encoded";

type Op =
  | { op: "save" | "saveRemote"; instance: string | null; handle: string; setAsDefault: boolean }
  | {
      op: "resolve" | "fetch" | "withCheckpoint" | "loadRemote" | "history" | "delete";
      instance: string | null;
      handle: string;
    }
  | { op: "fetchRef" | "setHandle"; instance: string | null; handle: string; ref: RefSource }
  | { op: "list" | "gc"; instance: string | null }
  | { op: "prune"; instance: string | null; keepLast: number; protect: string[] };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constantFrom("save" as const, "saveRemote" as const),
    instance: instanceArb,
    handle: handleArb,
    setAsDefault: fc.boolean(),
  }),
  fc.record({
    op: fc.constantFrom(
      "resolve" as const,
      "fetch" as const,
      "withCheckpoint" as const,
      "loadRemote" as const,
      "history" as const,
      "delete" as const,
    ),
    instance: instanceArb,
    handle: handleArb,
  }),
  fc.record({
    op: fc.constantFrom("fetchRef" as const, "setHandle" as const),
    instance: instanceArb,
    handle: handleArb,
    ref: fc.constantFrom<RefSource>(
      "own",
      "A's",
      "forged-traversal",
      "forged-other-scope",
      "forged-encoded",
    ),
  }),
  fc.record({ op: fc.constantFrom("list" as const, "gc" as const), instance: mostlyValid }),
  fc.record({
    op: fc.constant("prune" as const),
    instance: instanceArb,
    keepLast: fc.nat({ max: 2 }),
    protect: fc.array(anyString, { maxLength: 2 }),
  }),
);

const runArb = fc.record({
  workspace: mostlyValid,
  instance: mostlyValid,
  ops: fc.array(opArb, { minLength: 1, maxLength: 8 }),
});

// ---------------------------------------------------------------------------------------------

type Kind = "memory" | "file" | "s3";

/** Every key with its size and version tag (a cheap listing; any write changes the tag). */
async function listing(backend: RemoteBackend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const info of backend.list("")) out.set(info.key, `${info.size}:${info.etag}`);
  return out;
}

describe.each<Kind>(["memory", "file", "s3"])("scope isolation (%s)", (kind) => {
  let location: Location | undefined;
  let backend: RemoteBackend;
  let storeA: CheckpointStoreImpl;
  let aRef: CheckpointRef;
  let fileRoot: string | undefined;

  beforeAll(async () => {
    if (kind === "memory") {
      backend = createMemoryBackend();
    } else if (kind === "file") {
      // A folder of its own, so that anything written beside the store's root shows.
      fileRoot = join(await tempDir("scope-file"), "store");
      backend = createFileBackend({ root: fileRoot });
    } else {
      location = await createLocation(kind, "scope");
      backend = location.backend();
    }
    storeA = await createCheckpointStore({
      backend,
      workspace: A.workspace,
      fingerprintCache: join(work, "fingerprints-a"),
    });
    for (const handle of A_HANDLES) {
      ({ ref: aRef } = await storeA.save({
        pluginInstanceId: A.instance,
        handle,
        folder: folderA,
        setAsDefault: handle !== "secret",
      }));
    }
    // Another instance of A's workspace, and A's workspace-level neighbours.
    await storeA.save({ pluginInstanceId: A_INSTANCES[1]!, handle: "v1", folder: folderA });
  });

  afterAll(async () => {
    await location?.cleanup();
    if (fileRoot) await rm(join(fileRoot, ".."), { recursive: true, force: true });
  });

  it(`B never reads, lists, overwrites or deletes A's keys (${RUNS} fast-check runs, seed ${SEED})`, async () => {
    const baseline = await listing(backend);
    const aBefore = await snapshot(backend, A_PREFIX); // content hashes of A's keys
    expect(aBefore.size).toBeGreaterThanOrEqual(A_HANDLES.length + 3);
    const outcomes: Record<string, number> = {};
    let ranOps = 0;
    let storesRefused = 0;
    let failure: unknown;

    const property = fc.asyncProperty(
      runArb,
      async ({ workspace, instance: mainInstance, ops }) => {
        let storeB: CheckpointStoreImpl;
        try {
          storeB = await createCheckpointStore({
            backend,
            workspace,
            fingerprintCache: join(work, "fingerprints-b"),
          });
        } catch (error) {
          expect(ValidationError.isInstance(error), String(error)).toBe(true);
          expect(ID.test(workspace)).toBe(false);
          storesRefused++;
          return;
        }
        // B is another tenant: it never gets one of A's own workspace/instance pairs.
        const instanceOf = (given: string | null) => {
          const instance = given ?? mainInstance;
          return workspace === A.workspace && A_INSTANCES.includes(instance) ? "inst-b" : instance;
        };
        const scopes = new Set<string>();
        const ownDigests = new Set<string>();
        const ownRefs: CheckpointRef[] = [];
        const prefixOf = (instance: string) => `${workspace}/${instance}/`;
        const confined = (ref: CheckpointRef, instance: string, what: string) => {
          expect(
            ref.archivePath.startsWith(prefixOf(instance)),
            `${what}: ${ref.archivePath}`,
          ).toBe(true);
          expect(ownDigests.has(ref.digest), `${what}: a digest B never saved`).toBe(true);
        };
        const forge = (source: RefSource, instance: string): CheckpointRef => {
          // A's archive: `{A's scope}blobs/{id}.tar` (store format version 2).
          const name = aRef.archivePath.split("/").at(-1);
          switch (source) {
            case "own":
              return ownRefs.at(-1) ?? aRef;
            case "A's":
              return aRef;
            case "forged-traversal":
              return {
                ...aRef,
                archivePath: `${prefixOf(instance)}blobs/../../../${A_PREFIX}blobs/${name}`,
              };
            case "forged-encoded":
              return {
                ...aRef,
                archivePath: `${prefixOf(instance)}blobs/%2e%2e/%2e%2e/%2e%2e/${A_PREFIX}blobs/${name}`,
              };
            case "forged-other-scope":
              return {
                ...aRef,
                archivePath: `${prefixOf(instance)}blobs/${name}`,
                handle: "v1",
              };
          }
        };

        for (const [i, op] of ops.entries()) {
          const instance = instanceOf(op.instance);
          const what = `op ${i} ${JSON.stringify({ ...op, workspace, instance }).slice(0, 300)}`;
          const valid = ID.test(instance);
          if (valid) scopes.add(prefixOf(instance));
          const target = join(work, "out", `t-${ranOps}`);
          ranOps++;
          let result: unknown;
          let error: unknown;
          try {
            switch (op.op) {
              case "save": {
                const saved = await storeB.save({
                  pluginInstanceId: instance,
                  handle: op.handle,
                  folder: folderB,
                  setAsDefault: op.setAsDefault,
                });
                ownDigests.add(saved.ref.digest);
                ownRefs.push(saved.ref);
                result = saved.ref;
                break;
              }
              case "saveRemote": {
                const model = new FolderModel();
                model.source = folderB;
                const saved = await model.saveRemote({
                  store: storeB,
                  pluginInstanceId: instance,
                  handle: op.handle,
                  setAsDefault: op.setAsDefault,
                });
                ownDigests.add(saved.ref.digest);
                ownRefs.push(saved.ref);
                result = saved.ref;
                break;
              }
              case "resolve":
                result = await storeB.resolve({ pluginInstanceId: instance, handle: op.handle });
                confined(result as CheckpointRef, instance, what);
                break;
              case "fetch":
                result = await storeB.fetch({
                  pluginInstanceId: instance,
                  handle: op.handle,
                  target,
                });
                confined(result as CheckpointRef, instance, what);
                expect(await fingerprint(target), what).toBe(printB);
                break;
              case "withCheckpoint":
                result = await storeB.withCheckpoint({
                  pluginInstanceId: instance,
                  handle: op.handle,
                  use: async (dir, ref) => {
                    confined(ref, instance, what);
                    expect(await fingerprint(dir), what).toBe(printB);
                    return ref;
                  },
                });
                break;
              case "loadRemote": {
                const model = await FolderModel.loadRemote({
                  store: storeB,
                  pluginInstanceId: instance,
                  handle: op.handle,
                });
                expect(model.print, what).toBe(printB);
                result = model;
                break;
              }
              case "history": {
                const refs = await storeB.history({
                  pluginInstanceId: instance,
                  handle: op.handle,
                });
                for (const ref of refs) confined(ref, instance, what);
                result = refs;
                break;
              }
              case "delete":
                await storeB.delete({ pluginInstanceId: instance, handle: op.handle });
                break;
              case "list": {
                const refs = await storeB.list({ pluginInstanceId: instance });
                for (const ref of refs) confined(ref, instance, what);
                result = refs;
                break;
              }
              case "gc":
                result = await storeB.gc({ pluginInstanceId: instance, minAgeMs: 0 });
                for (const key of (result as { deleted: string[] }).deleted) {
                  expect(key.startsWith(prefixOf(instance)), `${what}: gc deleted ${key}`).toBe(
                    true,
                  );
                }
                break;
              case "prune":
                result = await storeB.prune({
                  pluginInstanceId: instance,
                  keepLast: op.keepLast,
                  protect: op.protect,
                });
                break;
              case "fetchRef": {
                const ref = forge(op.ref, instance);
                result = await storeB.fetch({ pluginInstanceId: instance, ref, target });
                // Only B's own ref may be fetched, and then it is B's content.
                confined(result as CheckpointRef, instance, what);
                expect(await fingerprint(target), what).toBe(printB);
                break;
              }
              case "setHandle": {
                const ref = forge(op.ref, instance);
                result = await storeB.setHandle({
                  pluginInstanceId: instance,
                  handle: op.handle,
                  ref,
                });
                confined(result as CheckpointRef, instance, what);
                break;
              }
            }
          } catch (e) {
            error = e;
          } finally {
            await rm(target, { recursive: true, force: true });
          }
          let label: string;
          if (error === undefined) {
            label = "ok";
            expect(valid, `${what}: succeeded with an invalid instance id`).toBe(true);
          } else {
            const allowed =
              ValidationError.isInstance(error) ||
              NotFoundError.isInstance(error) ||
              // A ref that is not B's own is refused as foreign.
              (IntegrityError.isInstance(error) && (op.op === "fetchRef" || op.op === "setHandle"));
            if (!allowed) throw new Error(`${what}: unexpected ${String(error)}`, { cause: error });
            label = (error as TrainableError).name;
          }
          const key = `${op.op}:${label}`;
          outcomes[key] = (outcomes[key] ?? 0) + 1;
          if (
            error === undefined &&
            (op.op === "fetchRef" || op.op === "setHandle") &&
            op.ref !== "own"
          ) {
            // Only B's own ref may succeed ("own" falls back to A's ref before B saved anything).
            throw new Error(`${what}: a ${op.ref} ref was accepted`);
          }
        }

        // A's scope: byte for byte what it was.
        expect(await snapshot(backend, A_PREFIX)).toEqual(aBefore);
        const after = await listing(backend);
        // Every other key B touched (created, changed or deleted) is inside one of B's scopes.
        const changed = [
          ...[...after].filter(([key, hash]) => baseline.get(key) !== hash).map(([key]) => key),
          ...[...baseline.keys()].filter((key) => !after.has(key)),
        ];
        for (const key of changed) {
          expect(
            [...scopes].some((prefix) => key.startsWith(prefix)),
            `key ${JSON.stringify(key)} changed outside B's scopes ${JSON.stringify([...scopes])}`,
          ).toBe(true);
        }
        if (fileRoot) {
          // Nothing was written next to the store's folder either.
          expect(await readdir(join(fileRoot, ".."))).toEqual([fileRoot.split("/").at(-1)]);
        }
        // Reset B's scopes for the next run.
        for (const key of changed) {
          if (!baseline.has(key)) await backend.delete(key);
        }
        await storeB.close();
      },
    );

    try {
      await fc.assert(property, { numRuns: RUNS, seed: SEED, endOnFailure: true });
    } catch (error) {
      failure = error;
    }
    const summary = Object.entries(outcomes)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, n]) => `${k}×${n}`)
      .join(", ");
    const outcome = failure
      ? `FAILED: ${(failure as Error).message.split("\n").slice(0, 4).join(" ")}`
      : `A's ${aBefore.size} keys unchanged after every run; every key B touched was under B's scope; ${ranOps} operations (${summary}); ${storesRefused} B stores refused (bad workspace)`;
    console.log(`[scope-isolation] ${kind}: ${outcome}`);
    recordCase({
      id: "scope-isolation.other-tenant",
      method: `fast-check (seed ${SEED}): per run a store for a generated workspace and 1-8 operations (save, saveRemote, resolve, fetch, withCheckpoint, loadRemote, history, delete, list, gc, prune, fetch/setHandle with A's or forged refs: traversal, %2e%2e-encoded and other-scope archive paths to A's blob) with generated ids/handles (../, %2e%2e, /, \\, NUL, unicode, 10 000 chars, A's ids); every key + content snapshotted before and after`,
      backend: kind,
      trials: RUNS,
      outcome,
      passed: failure === undefined,
    });
    if (failure) throw failure;
  }, 900_000);
});
