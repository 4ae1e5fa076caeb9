import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type CheckpointStore, RemoteError } from "@trainable/core";
import {
  type CheckpointStoreImpl,
  createBackend,
  createCheckpointStore,
  type RemoteBackend,
} from "@trainable/storage";
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
  /** A store on the same data whose backend can be made to fail or stall (see {@link BackendControl}). */
  openControlled(options?: { workspace?: string }): Promise<{
    store: CheckpointStoreImpl;
    control: BackendControl;
  }>;
  /**
   * A store on the same location that becomes unreachable once opened (opening reads the
   * store's format marker): S3 requests then go to a closed port on 127.0.0.1 (real
   * connection refusals from the SDK); the file backend is wrapped to refuse every call.
   */
  openUnreachable(options?: { workspace?: string }): Promise<CheckpointStoreImpl>;
  cleanup(): Promise<void>;
}

/** Switches of a controlled backend, read on every backend call. */
interface BackendControl {
  /** When set, every backend call throws what it returns (e.g. a `RemoteError`). */
  fail: (() => Error) | undefined;
  /** When set, every backend call waits for it first. */
  gate: Promise<void> | undefined;
  /** Backend calls made so far. */
  calls: number;
}

/** The error an unreachable store's backend throws: a retryable `RemoteError`. */
export const unreachable = () =>
  new RemoteError("[test] connect ECONNREFUSED: the store is unreachable", { retryable: true });

/** Wraps a backend so that `control` can make every call fail or wait. */
function controlledBackend(backend: RemoteBackend, control: BackendControl): RemoteBackend {
  const before = async () => {
    control.calls++;
    if (control.gate) await control.gate;
    if (control.fail) throw control.fail();
  };
  return new Proxy(backend, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== "function") return value;
      if (property === "list") {
        return (prefix: string, options?: unknown) =>
          (async function* () {
            await before();
            yield* (value as RemoteBackend["list"]).call(target, prefix, options as never);
          })();
      }
      if (property === "close") return (value as () => unknown).bind(target);
      return async (...args: unknown[]) => {
        await before();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

let counter = 0;

export async function createStoreLocation(kind: BackendKind): Promise<StoreLocation> {
  if (kind === "file") {
    const dir = await mkdtemp(join(tmpdir(), "trainable-cache-store-"));
    const url = pathToFileURL(dir).href;
    const control = (): BackendControl => ({ fail: undefined, gate: undefined, calls: 0 });
    return {
      kind,
      url,
      env: {},
      open: ({ workspace = "ws" } = {}) => createCheckpointStore({ url, workspace }),
      openControlled: async ({ workspace = "ws" } = {}) => {
        const c = control();
        const backend = controlledBackend(await createBackend(url), c);
        return { store: await createCheckpointStore({ backend, workspace }), control: c };
      },
      openUnreachable: async ({ workspace = "ws" } = {}) => {
        const c = control();
        const backend = controlledBackend(await createBackend(url), c);
        const opened = await createCheckpointStore({ backend, workspace });
        c.fail = unreachable;
        return opened;
      },
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
    openControlled: async ({ workspace = "ws" } = {}) => {
      const control: BackendControl = { fail: undefined, gate: undefined, calls: 0 };
      const backend = controlledBackend(await createS3Backend(settings), control);
      return { store: await createCheckpointStore({ backend, workspace }), control };
    },
    openUnreachable: async ({ workspace = "ws" } = {}) => {
      const reachable = await createS3Backend(settings);
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const dead = await createS3Backend({ ...settings, endpoint, maxAttempts: 1 });
      let current = reachable;
      const backend = new Proxy(reachable, {
        get(_target, property) {
          const value = Reflect.get(current, property) as unknown;
          return typeof value === "function" ? value.bind(current) : value;
        },
      });
      const opened = await createCheckpointStore({ backend, workspace });
      current = dead;
      await reachable.close?.();
      return opened;
    },
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
