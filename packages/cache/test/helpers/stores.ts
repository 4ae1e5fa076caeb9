import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CheckpointStore } from "@trainable/core";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import { createS3Backend } from "@trainable/storage/s3";
import { getS3TestConfig } from "../../../../tools/s3-server/s3-test-env.js";

export type BackendKind = "file" | "s3";

/** A place checkpoints live, and how to open a store on it (again and again). */
export interface StoreLocation {
  kind: BackendKind;
  /** A URL for `createCheckpointStore` (no credentials: S3 keys come from the environment). */
  url: string;
  /** Environment a child process needs to open the same store. */
  env: Record<string, string>;
  open(options?: { workspace?: string }): Promise<CheckpointStoreImpl>;
  cleanup(): Promise<void>;
}

let counter = 0;

export async function createStoreLocation(kind: BackendKind): Promise<StoreLocation> {
  if (kind === "file") {
    const dir = await mkdtemp(join(tmpdir(), "trainable-cache-store-"));
    const url = pathToFileURL(dir).href;
    return {
      kind,
      url,
      env: {},
      open: ({ workspace = "ws" } = {}) => createCheckpointStore({ url, workspace }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const s3 = getS3TestConfig();
  const prefix = `${s3.prefix}cache-${process.pid}-${++counter}-${Date.now().toString(36)}/`;
  const settings = {
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  return {
    kind,
    url: `s3://${s3.bucket}/${prefix}`,
    env: { CACHE_TEST_S3: JSON.stringify(settings) },
    open: async ({ workspace = "ws" } = {}) =>
      createCheckpointStore({ backend: await createS3Backend(settings), workspace }),
    cleanup: async () => {},
  };
}

/** A store whose every method throws: proves offline mode never calls the store. */
export function forbiddenStore(workspace: string): CheckpointStore {
  return new Proxy({ workspace } as CheckpointStore, {
    get(target, property) {
      if (property === "workspace") return target.workspace;
      if (property === "then") return undefined;
      return () => {
        throw new Error(`store.${String(property)} was called in offline mode`);
      };
    },
  });
}
