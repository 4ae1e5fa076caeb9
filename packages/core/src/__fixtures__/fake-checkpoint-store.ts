/**
 * Test doubles of the `CheckpointStore` and `ModelCache` ports, written against the public
 * exports only. The store really copies folders (`cp -r`) into a directory per handle under
 * a temp root and writes a ref JSON beside it; both record every call.
 */
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import {
  type CacheLoadOptions,
  type CheckpointFile,
  type CheckpointLocator,
  type CheckpointManifest,
  type CheckpointRef,
  type CheckpointStore,
  ConflictError,
  type FetchCheckpointOptions,
  type ModelCache,
  NotFoundError,
  type SaveCheckpointOptions,
  type SaveCheckpointResult,
  type SetHandleOptions,
  type WithCheckpointOptions,
} from "../index.js";

export interface RecordedCall {
  method: string;
  options: Record<string, unknown>;
}

async function listFiles(root: string, dir = root): Promise<CheckpointFile[]> {
  const out: CheckpointFile[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, full)));
    else if (entry.isFile()) {
      const bytes = await readFile(full);
      out.push({
        path: relative(root, full).split(sep).join("/"),
        size: bytes.length,
        sha256: createHash("sha256").update(bytes).digest("hex"),
      });
    }
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export class FakeCheckpointStore implements CheckpointStore {
  readonly calls: RecordedCall[] = [];

  private constructor(
    readonly root: string,
    readonly workspace: string,
  ) {}

  static async create(workspace = "test-ws"): Promise<FakeCheckpointStore> {
    return new FakeCheckpointStore(
      await mkdtemp(join(tmpdir(), "trainable-core-store-")),
      workspace,
    );
  }

  async destroy(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  /** The folder holding the copy of `handle`'s checkpoint. */
  handleDir(pluginInstanceId: string, handle: string): string {
    return join(this.root, this.workspace, pluginInstanceId, "handles", handle);
  }

  refPath(pluginInstanceId: string, handle: string): string {
    return join(this.root, this.workspace, pluginInstanceId, "refs", `${handle}.json`);
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  private async writeHandle(
    pluginInstanceId: string,
    ref: CheckpointRef,
    from: string,
  ): Promise<void> {
    const dir = this.handleDir(pluginInstanceId, ref.handle);
    if (dir !== from) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(join(dir, ".."), { recursive: true });
      await cp(from, dir, { recursive: true });
    }
    await mkdir(join(this.refPath(pluginInstanceId, ref.handle), ".."), { recursive: true });
    await writeFile(this.refPath(pluginInstanceId, ref.handle), JSON.stringify(ref, null, 2));
  }

  async save(options: SaveCheckpointOptions): Promise<SaveCheckpointResult> {
    this.calls.push({ method: "save", options: { ...options } });
    const { pluginInstanceId, handle } = options;
    let scratch: string | undefined;
    let folder = options.folder;
    try {
      if (folder === undefined) {
        if (!options.write) throw new Error("fake store: save needs folder or write");
        scratch = await mkdtemp(join(tmpdir(), "trainable-core-save-"));
        folder = join(scratch, "checkpoint");
        await mkdir(folder);
        await options.write(folder);
      }
      await this.checkExpected(pluginInstanceId, handle, options.expectedDigest);
      const files = await listFiles(folder);
      const hex = createHash("sha256").update(JSON.stringify(files)).digest("hex");
      const size = files.reduce((n, f) => n + f.size, 0);
      const ref: CheckpointRef = {
        formatVersion: 2,
        handle,
        digest: `sha256:${hex}`,
        archivePath: `${this.workspace}/${pluginInstanceId}/blobs/${hex.slice(0, 16)}.tar`,
        size,
        compression: "none",
        manifestSize: JSON.stringify(files).length,
        fileCount: files.length,
        directoryCount: 0,
        totalBytes: size,
        createdAt: new Date().toISOString(),
        parent: null,
        metadata: options.metadata ?? {},
      };
      options.onProgress?.({ phase: "upload", bytes: size, total: size });
      await this.writeHandle(pluginInstanceId, ref, folder);
      let defaultRef: CheckpointRef | undefined;
      if (options.setAsDefault) {
        defaultRef = handle === "default" ? ref : { ...ref, handle: "default" };
        if (handle !== "default") await this.writeHandle(pluginInstanceId, defaultRef, folder);
      }
      return { ref, defaultRef, uploadedBytes: size };
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }

  /** Compare-and-swap: a `ConflictError` when `handle` does not point at `expected` (when given). */
  private async checkExpected(
    pluginInstanceId: string,
    handle: string,
    expected: string | null | undefined,
  ): Promise<void> {
    if (expected === undefined) return;
    const current = (await this.readRef(pluginInstanceId, handle))?.digest ?? null;
    if (current !== expected) {
      throw new ConflictError(`[fake] handle "${handle}" moved`, { expected, actual: current });
    }
  }

  private async readRef(
    pluginInstanceId: string,
    handle: string,
  ): Promise<CheckpointRef | undefined> {
    try {
      return JSON.parse(
        await readFile(this.refPath(pluginInstanceId, handle), "utf8"),
      ) as CheckpointRef;
    } catch {
      return undefined;
    }
  }

  async resolve(options: CheckpointLocator): Promise<CheckpointRef> {
    this.calls.push({ method: "resolve", options: { ...options } });
    if (options.ref) return options.ref;
    const handle = options.handle ?? "default";
    const ref = await this.readRef(options.pluginInstanceId, handle);
    if (!ref) {
      throw new NotFoundError(`[fake] No checkpoint "${handle}" for ${options.pluginInstanceId}`);
    }
    return ref;
  }

  async fetch(options: FetchCheckpointOptions): Promise<CheckpointRef> {
    this.calls.push({ method: "fetch", options: { ...options } });
    const ref = options.ref ?? (await this.resolve(options));
    const source = this.handleDir(options.pluginInstanceId, ref.handle);
    if (await exists(options.target)) throw new Error(`[fake] target exists: ${options.target}`);
    await cp(source, options.target, { recursive: true });
    options.onProgress?.({ phase: "download", bytes: ref.size, total: ref.size });
    return ref;
  }

  async readManifest(options: CheckpointLocator): Promise<CheckpointManifest> {
    this.calls.push({ method: "readManifest", options: { ...options } });
    const ref = options.ref ?? (await this.resolve(options));
    return {
      files: await listFiles(this.handleDir(options.pluginInstanceId, ref.handle)),
      directories: [],
    };
  }

  async withCheckpoint<T>(options: WithCheckpointOptions<T>): Promise<T> {
    this.calls.push({ method: "withCheckpoint", options: { ...options } });
    const scratch = await mkdtemp(join(tmpdir(), "trainable-core-use-"));
    try {
      const target = join(scratch, "checkpoint");
      const ref = await this.fetch({ ...options, target });
      return await options.use(target, ref);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async setHandle(options: SetHandleOptions): Promise<CheckpointRef> {
    this.calls.push({ method: "setHandle", options: { ...options } });
    const ref = { ...options.ref, handle: options.handle };
    await this.writeHandle(
      options.pluginInstanceId,
      ref,
      this.handleDir(options.pluginInstanceId, options.ref.handle),
    );
    return ref;
  }

  async list(options: { pluginInstanceId: string }): Promise<CheckpointRef[]> {
    this.calls.push({ method: "list", options: { ...options } });
    const dir = join(this.root, this.workspace, options.pluginInstanceId, "refs");
    if (!(await exists(dir))) return [];
    const names = (await readdir(dir)).filter((n) => n.endsWith(".json")).sort();
    const refs: CheckpointRef[] = [];
    for (const name of names) {
      const ref = await this.readRef(options.pluginInstanceId, name.slice(0, -".json".length));
      if (ref) refs.push(ref);
    }
    return refs;
  }

  async delete(options: {
    pluginInstanceId: string;
    handle: string;
    expectedDigest?: string;
  }): Promise<void> {
    this.calls.push({ method: "delete", options: { ...options } });
    await this.checkExpected(options.pluginInstanceId, options.handle, options.expectedDigest);
    await rm(this.refPath(options.pluginInstanceId, options.handle), { force: true });
    await rm(this.handleDir(options.pluginInstanceId, options.handle), {
      recursive: true,
      force: true,
    });
  }
}

/** A `ModelCache` that keys loaded models by kind and digest, and records every call. */
export class FakeModelCache implements ModelCache {
  readonly loads: CacheLoadOptions<unknown>[] = [];
  readonly notified: Array<{ pluginInstanceId: string; ref: CheckpointRef }> = [];
  readonly invalidated: Array<{ pluginInstanceId: string; handle?: string }> = [];
  private readonly models = new Map<string, unknown>();
  private readonly classIds = new WeakMap<object, number>();
  private nextClassId = 1;

  private classId(modelClass: object | undefined): number {
    if (!modelClass) return 0;
    if (!this.classIds.has(modelClass)) this.classIds.set(modelClass, this.nextClassId++);
    return this.classIds.get(modelClass) as number;
  }

  constructor(readonly store: CheckpointStore) {}

  async getOrLoad<M>(options: CacheLoadOptions<M>): Promise<M> {
    this.loads.push(options as CacheLoadOptions<unknown>);
    const ref = await this.store.resolve({
      pluginInstanceId: options.pluginInstanceId,
      handle: options.handle,
      signal: options.signal,
    });
    const key = `${options.kind ?? ""}|${this.classId(options.modelClass)}|${JSON.stringify(options.config)}|${options.pluginInstanceId}|${ref.digest}`;
    if (this.models.has(key)) return this.models.get(key) as M;
    const model = await this.store.withCheckpoint({
      pluginInstanceId: options.pluginInstanceId,
      handle: options.handle,
      ref,
      signal: options.signal,
      use: (dir, r) => options.load(dir, r),
    });
    this.models.set(key, model);
    return model;
  }

  invalidate(options: { pluginInstanceId: string; handle?: string }): void {
    this.invalidated.push(options);
  }

  notifySaved(options: { pluginInstanceId: string; ref: CheckpointRef }): void {
    this.notified.push(options);
  }
}
