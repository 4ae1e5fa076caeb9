import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createModelCache } from "@trainable/cache";
import type { CheckpointStore, ModelCache } from "@trainable/core";
import { createCheckpointStore } from "@trainable/storage";

export interface TestEnv {
  root: string;
  storeDir: string;
  store: CheckpointStore;
  cache: ModelCache;
  /** A fresh folder under `root`. */
  dir(name: string): string;
  cleanup(): Promise<void>;
}

const WORKSPACE = "ws";

/** A temp folder, a real `file:` checkpoint store and a real model cache. */
export async function createTestEnv(): Promise<TestEnv> {
  const root = await mkdtemp(join(tmpdir(), "trainable-runtime-"));
  const storeDir = join(root, "store");
  const store = await createCheckpointStore({
    url: pathToFileURL(storeDir).href,
    workspace: WORKSPACE,
  });
  const cache = createModelCache({
    store,
    diskDir: join(root, "cache"),
    revalidateMs: 0,
    logger: { warn: () => {} },
  });
  return {
    root,
    storeDir,
    store,
    cache,
    dir: (name) => join(root, name),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Logs nothing (the tests provoke errors on purpose). */
export const silentLogger = { warn: () => {}, error: () => {} };
