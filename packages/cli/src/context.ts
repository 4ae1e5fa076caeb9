import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type TransferProgress, ValidationError, validateId } from "@trainable/core";
import { type CheckpointStoreImpl, createCheckpointStore } from "@trainable/storage";
import type { CliIo } from "./io.js";
import { ProgressReporter } from "./progress.js";

export interface GlobalOptions {
  remote?: string;
  workspace?: string;
  json?: boolean;
  debug?: boolean;
  dataDir?: string;
}

/** Resolved global settings shared by every command. */
export class CliContext {
  readonly remote: string;
  /** Where `remote` came from, for messages: the flag, the variable or the default. */
  private readonly remoteSource: string;
  readonly workspace: string;
  readonly json: boolean;
  readonly debug: boolean;
  /** Local state of the engine (tasks, instances): `./.trainable/engine` by default. */
  readonly dataDir: string;
  readonly progress: ProgressReporter;
  /**
   * The exit code of a command that completed but found a problem to report (e.g. `verify`
   * finding a bad blob): 1. Errors thrown by commands set the exit code in `main` instead.
   */
  exitCode = 0;
  private storePromise?: Promise<CheckpointStoreImpl>;
  private readonly closers: (() => Promise<void> | void)[] = [];

  constructor(
    readonly io: CliIo,
    options: GlobalOptions,
  ) {
    this.remote =
      options.remote ??
      io.env.TRAINABLE_REMOTE ??
      pathToFileURL(join(io.cwd, ".trainable", "store")).href;
    this.remoteSource =
      options.remote !== undefined
        ? "--remote"
        : io.env.TRAINABLE_REMOTE !== undefined
          ? "TRAINABLE_REMOTE"
          : "default store URL";
    this.workspace = validateId(
      options.workspace ?? io.env.TRAINABLE_WORKSPACE ?? "local",
      "--workspace",
    );
    this.json = options.json ?? false;
    this.debug = options.debug ?? false;
    const dataDir =
      options.dataDir ?? io.env.TRAINABLE_DATA_DIR ?? join(io.cwd, ".trainable", "engine");
    this.dataDir = isAbsolute(dataDir) ? dataDir : resolve(io.cwd, dataDir);
    this.progress = new ProgressReporter(io, !this.json);
  }

  /** The checkpoint store, reporting upload and download progress of every save and fetch. */
  store(): Promise<CheckpointStoreImpl> {
    this.storePromise ??= createCheckpointStore({
      url: this.remote,
      workspace: this.workspace,
    }).then(
      (store) => withProgress(store, this.progress),
      (error: unknown) => {
        // Name the flag (or variable) the bad URL came from, not only the storage layer's view.
        if (!ValidationError.isInstance(error)) throw error;
        const problem = error.message.replace(/^\[[^\]]*\]\s*/, "");
        throw new ValidationError(`[cli] Invalid ${this.remoteSource}: ${problem}`, {
          cause: error,
          issues: [{ path: this.remoteSource, message: problem }],
        });
      },
    );
    return this.storePromise;
  }

  /**
   * The folders on this machine that hold the CLI's own state: the store (for a `file:`
   * remote) and the engine's data dir. A command that replaces or packs a folder refuses one
   * that holds any of them.
   */
  localStatePaths(): { path: string; what: string }[] {
    const paths: { path: string; what: string }[] = [];
    if (this.remote.startsWith("file:")) {
      try {
        paths.push({ path: fileURLToPath(this.remote), what: `the store (${this.remoteSource})` });
      } catch {
        // Not a path this machine can name: the store checks its URL when it is opened.
      }
    }
    paths.push({ path: this.dataDir, what: "the engine's data dir (--data-dir)" });
    return paths;
  }

  /** Prints a result: JSON with `--json`, else the human text. */
  print(result: unknown, human: () => string): void {
    this.progress.done();
    if (this.json) this.io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else this.io.stdout.write(`${human()}\n`);
  }

  /** Runs `fn` when the command ends (engines, servers), before the store closes. */
  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) await fn();
    if (this.storePromise) await (await this.storePromise.catch(() => undefined))?.close();
  }
}

/** Wraps a store so saves and fetches (also those made by the engine and the cache) report progress. */
function withProgress(store: CheckpointStoreImpl, progress: ProgressReporter): CheckpointStoreImpl {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "save" || prop === "fetch" || prop === "withCheckpoint") {
        return (options: { onProgress?: (p: TransferProgress) => void }) =>
          value.call(target, {
            ...options,
            onProgress: (p: TransferProgress) => {
              progress.transfer(p);
              options.onProgress?.(p);
            },
          });
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Parses an integer flag, naming the flag in the error. */
export function parseIntFlag(value: string, flag: string, min = 0): number {
  if (!/^-?\d+$/.test(value.trim()))
    throw ValidationError.forField("cli", flag, `expected an integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw ValidationError.forField("cli", flag, `must be an integer >= ${min}, got ${value}`);
  return n;
}

/** Parses a number flag, naming the flag in the error. */
export function parseNumberFlag(
  value: string,
  flag: string,
  { min, max }: { min: number; max: number },
): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw ValidationError.forField(
      "cli",
      flag,
      `must be a number from ${min} to ${max}, got "${value}"`,
    );
  }
  return n;
}
