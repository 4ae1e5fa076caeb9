/**
 * Ctrl-C landing after the store wrote a ref but before `save` / `setHandle` answered: the
 * store still uses the signal after the ref write (pin release, collection check), so the
 * call rejects with CANCELLED while the handle already moved. The undo must put it back all
 * the same, never report "nothing imported" with a handle moved.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CancelledError,
  type CheckpointStore,
  DEFAULT_HANDLE,
  NotFoundError,
} from "@trainable/core";
import { createCheckpointStore, createMemoryBackend, type RemoteBackend } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importSteamship } from "./import-steamship.js";
import { makeArchiveLayout, writeZip } from "./write-zip.js";

const INSTANCE = "imp";
let root: string;

/** A zip of a folder holding `w.txt` with `content`. */
async function zipOf(content: string, target: string): Promise<void> {
  const folder = await mkdtemp(join(root, "model-"));
  await writeFile(join(folder, "w.txt"), content);
  await writeZip({
    folder,
    layout: makeArchiveLayout(["w.txt"], []),
    target,
    mtime: new Date("2020-01-01T00:00:00Z"),
  });
}

/** A source folder: `a.zip`, and `default.zip` (a copy of `a.zip`, or other content). */
async function sourceWith(name: string, defaultIsCopy: boolean): Promise<string> {
  const source = join(root, name);
  await mkdir(source);
  await zipOf("a-content", join(source, "a.zip"));
  if (defaultIsCopy) await copyFile(join(source, "a.zip"), join(source, "default.zip"));
  else await zipOf("default-content", join(source, "default.zip"));
  return source;
}

interface Trap {
  handle: string;
  controller?: AbortController;
  /** Run right after the abort (a concurrent writer). */
  afterAbort?: () => Promise<void>;
}

/**
 * A memory backend that, once `trap.controller` is set, aborts it right after the first put of
 * a key under `refs/{trap.handle}/` (the ref written, the store's call not answered yet).
 */
function trapped(trap: Trap, inner = createMemoryBackend()): RemoteBackend {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "put") {
        return async (...args: Parameters<RemoteBackend["put"]>) => {
          const info = await target.put(...args);
          const { controller } = trap;
          if (
            controller &&
            !controller.signal.aborted &&
            args[0].includes(`/refs/${trap.handle}/`)
          ) {
            controller.abort();
            await trap.afterAbort?.();
          }
          return info;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const digestOf = async (store: CheckpointStore, handle: string) => {
  try {
    return (await store.resolve({ pluginInstanceId: INSTANCE, handle })).digest;
  } catch (error) {
    if (NotFoundError.isInstance(error)) return "absent";
    throw error;
  }
};

/** Saves a checkpoint of other content at `a` (and `default` when `setAsDefault`). */
async function seed(store: CheckpointStore, setAsDefault: boolean): Promise<void> {
  await store.save({
    pluginInstanceId: INSTANCE,
    handle: "a",
    setAsDefault,
    write: async (dir) => writeFile(join(dir, "old.txt"), "old"),
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "trainable-import-steamship-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("importSteamship aborted right after a ref write", () => {
  it.each([
    { abortAfter: "a", existed: false, defaultIsCopy: true },
    { abortAfter: "a", existed: true, defaultIsCopy: true },
    { abortAfter: DEFAULT_HANDLE, existed: false, defaultIsCopy: true },
    { abortAfter: DEFAULT_HANDLE, existed: true, defaultIsCopy: true },
    { abortAfter: DEFAULT_HANDLE, existed: false, defaultIsCopy: false },
    { abortAfter: DEFAULT_HANDLE, existed: true, defaultIsCopy: false },
  ])(
    "after the put of refs/$abortAfter (existed before: $existed, default.zip a copy: $defaultIsCopy): CancelledError, handles as before",
    async ({ abortAfter, existed, defaultIsCopy }) => {
      const tmp = await mkdtemp(join(root, "tmp-"));
      const trap: Trap = { handle: abortAfter };
      const store = await createCheckpointStore({
        backend: trapped(trap),
        workspace: "local",
        tmpDir: tmp,
      });
      try {
        if (existed) await seed(store, true);
        const controller = new AbortController();
        trap.controller = controller;
        const before = { a: await digestOf(store, "a"), default: await digestOf(store, "default") };
        const source = await sourceWith(
          `src-${abortAfter}-${existed}-${defaultIsCopy}`,
          defaultIsCopy,
        );
        const error = await importSteamship({
          store,
          pluginInstanceId: INSTANCE,
          source,
          tmpDir: tmp,
          signal: controller.signal,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(controller.signal.aborted).toBe(true);
        expect(CancelledError.isInstance(error), String(error)).toBe(true);
        expect({
          a: await digestOf(store, "a"),
          default: await digestOf(store, "default"),
        }).toEqual(before);
        const message = (error as Error).message;
        expect(message).toMatch(/nothing imported into imp/);
        expect(message).toMatch(
          new RegExp(
            `${existed ? "put back to their previous checkpoint" : "imported, then removed"}: [^;]*\\b${abortAfter}\\b`,
          ),
        );
      } finally {
        await store.close();
      }
    },
  );
});

it("a handle someone else moved after the import wrote it is left to them and reported", async () => {
  const tmp = await mkdtemp(join(root, "tmp-"));
  const inner = createMemoryBackend();
  const trap: Trap = { handle: DEFAULT_HANDLE };
  const store = await createCheckpointStore({
    backend: trapped(trap, inner),
    workspace: "local",
    tmpDir: tmp,
  });
  const other = await createCheckpointStore({ backend: inner, workspace: "local", tmpDir: tmp });
  try {
    const theirs = await other.save({
      pluginInstanceId: INSTANCE,
      handle: "theirs",
      setAsDefault: false,
      write: async (dir) => writeFile(join(dir, "t.txt"), "theirs"),
    });
    const controller = new AbortController();
    trap.controller = controller;
    // Right after `default` was written (`a` imported before it), someone moves `a`.
    trap.afterAbort = async () => {
      await other.setHandle({ pluginInstanceId: INSTANCE, handle: "a", ref: theirs.ref });
    };
    const error = await importSteamship({
      store,
      pluginInstanceId: INSTANCE,
      source: await sourceWith("src-concurrent", false),
      tmpDir: tmp,
      signal: controller.signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(CancelledError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/handle\(s\) a of imp could not be put back/);
    expect((error as Error).message).toMatch(/imported, then removed: default/);
    expect(await digestOf(store, "a")).toBe(theirs.ref.digest);
    expect(await digestOf(store, DEFAULT_HANDLE)).toBe("absent");
  } finally {
    await store.close();
    await other.close();
  }
});
