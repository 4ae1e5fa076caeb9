import type { Readable } from "node:stream";
import { addAbortSignal } from "node:stream";
import { CancelledError, RemoteError, TrainableError } from "@trainable/core";
import { folderNamesOf } from "./list-prefixes.js";
import { optionError } from "./option-error.js";
import type {
  BackendCapabilities,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutOptions,
  RemoteBackend,
} from "./types.js";
import { validateKey, validatePrefix } from "./validate-key.js";
import { validatePutOptions } from "./validate-put-options.js";
import { validateRange } from "./validate-range.js";

/** Which operation failed, for error messages. */
export interface OperationContext {
  /** "put", "get", "head", "list", "listPrefixes", "delete", "sweep" (a driver may name its own steps). */
  op: string;
  /** The key, or the prefix for `list` and `sweep`. */
  key: string;
  signal?: AbortSignal;
}

/**
 * The raw methods of a driver. They are called only with a valid key or prefix, valid
 * options and a signal that was not aborted yet; what they throw is mapped by
 * {@link defineBackend}.
 */
export interface BackendDriver {
  put(key: string, body: Readable | Uint8Array, options: PutOptions): Promise<ObjectInfo>;
  get(key: string, options: GetOptions): Promise<{ body: Readable; info: ObjectInfo }>;
  head(key: string, options: { signal?: AbortSignal }): Promise<ObjectInfo | undefined>;
  /** May return more than `options.limit` keys: the wrapper stops at the limit. */
  list(prefix: string, options: ListOptions): AsyncIterable<ObjectInfo>;
  /**
   * Optional: the folder names directly under `prefix` (`""` or ending in `/`), in the order
   * of `RemoteBackend.listPrefixes`, each once, only folders holding a key. Without it the
   * wrapper walks `list`. May return more than `options.limit` names.
   */
  listPrefixes?(prefix: string, options: ListOptions): AsyncIterable<string>;
  delete(key: string, options: { signal?: AbortSignal }): Promise<void>;
  sweep?(
    prefix: string,
    options: { olderThanMs?: number; signal?: AbortSignal },
  ): Promise<{ removed: number; bytes: number }>;
  close?(): Promise<void>;
}

export interface BackendDefinition {
  /** Driver name ("file", "s3", …): the `name` of the backend and the `[storage] [name]` of its messages. */
  name: string;
  /** A URL-ish description without credentials, for messages. */
  description: string;
  capabilities: BackendCapabilities;
  /**
   * Maps what the driver threw (never a `TrainableError`, never an abort: those are handled
   * already) to the storage error family. Default: a non-retryable `RemoteError` naming the
   * operation, the key and the error's `code` or `name`.
   */
  mapError?: (error: unknown, context: OperationContext) => Error;
  driver: BackendDriver;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return (error as Error | undefined)?.name === "AbortError" || signal?.aborted === true;
}

function destroyStream(body: unknown): void {
  if (body instanceof Uint8Array) return;
  const stream = body as Readable | undefined;
  if (typeof stream?.destroy === "function" && !stream.destroyed) stream.destroy();
}

/** Turns what an operation threw into the storage error family (see {@link defineBackend}). */
function errorMapper(definition: BackendDefinition) {
  const prefix = `[storage] [${definition.name}]`;
  return (error: unknown, context: OperationContext): Error => {
    if (TrainableError.isInstance(error)) return error;
    if (isAbort(error, context.signal)) {
      return new CancelledError(`${prefix} ${context.op} "${context.key}" cancelled`, {
        cause: error,
      });
    }
    if (definition.mapError) return definition.mapError(error, context);
    const code = (error as { code?: unknown } | undefined)?.code;
    const what =
      typeof code === "string" ? code : ((error as Error | undefined)?.name ?? String(error));
    return new RemoteError(`${prefix} ${context.op} "${context.key}" failed: ${what}`, {
      cause: error,
      retryable: false,
    });
  };
}

/** The prefix of `sweep` and `listPrefixes`: valid, and `""` or a folder (ending in `/`). */
function validateFolderPrefix(name: string, folder: string): void {
  validatePrefix(name, folder);
  if (folder !== "" && !folder.endsWith("/")) {
    throw optionError(
      name,
      "prefix",
      `must end with "/" (a folder), got ${JSON.stringify(folder)}`,
    );
  }
}

/**
 * A listing as the contract wants it: on the first `next()`, `validate` runs, then the driver
 * is asked (`open`) unless `limit` is 0 or the signal is aborted; the signal is
 * checked between items; it stops at `limit`; errors are mapped.
 */
async function* guardedListing<T>(
  guard: {
    fail: (error: unknown, context: OperationContext) => Error;
    checkAbort: (context: OperationContext) => void;
  },
  context: OperationContext,
  limit: number | undefined,
  validate: () => void,
  open: () => AsyncIterable<T>,
): AsyncGenerator<T> {
  try {
    validate();
    let left = limit ?? Number.POSITIVE_INFINITY;
    if (left <= 0) return;
    guard.checkAbort(context);
    for await (const item of open()) {
      guard.checkAbort(context);
      yield item;
      if (--left <= 0) return;
    }
  } catch (error) {
    throw guard.fail(error, context);
  }
}

/**
 * Builds a `RemoteBackend` from a driver's raw methods, enforcing the backend contract once
 * for every driver: keys, prefixes, ranges and put options are validated before any I/O
 * (`ValidationError`); an already aborted signal fails before any I/O and an abort during the
 * operation ends it (`CancelledError`); a `get`'s body is tied to the signal; `list` stops at
 * `limit`; `listPrefixes` exists even when the driver has none (it walks `list`); a `put`
 * that fails destroys its body stream; every error leaves as a `TrainableError` whose message starts with `[storage] [name]`. See docs/writing-a-backend.md.
 */
export function defineBackend(definition: BackendDefinition): RemoteBackend {
  const { name, description, capabilities, driver } = definition;
  if (typeof name !== "string" || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw optionError("backend", "name", "must be a lowercase word (letters, digits, '-')");
  }
  const fail = errorMapper(definition);
  const checkAbort = (context: OperationContext) =>
    CancelledError.throwIfAborted(
      context.signal,
      `[storage] [${name}] ${context.op} "${context.key}"`,
    );
  const listing = <T>(
    context: OperationContext,
    limit: number | undefined,
    validate: () => void,
    open: () => AsyncIterable<T>,
  ): AsyncGenerator<T> => guardedListing({ fail, checkAbort }, context, limit, validate, open);

  const backend: RemoteBackend = {
    name,
    capabilities,
    description,

    async put(key, body, options = {}) {
      const context: OperationContext = { op: "put", key, signal: options.signal };
      try {
        validateKey(name, key);
        validatePutOptions(name, body, options);
        checkAbort(context);
        return await driver.put(key, body, options);
      } catch (error) {
        destroyStream(body);
        throw fail(error, context);
      }
    },

    async get(key, options = {}) {
      const context: OperationContext = { op: "get", key, signal: options.signal };
      try {
        validateKey(name, key);
        validateRange(name, options.range);
        checkAbort(context);
        const result = await driver.get(key, options);
        if (options.signal) addAbortSignal(options.signal, result.body);
        return result;
      } catch (error) {
        throw fail(error, context);
      }
    },

    async head(key, options = {}) {
      const context: OperationContext = { op: "head", key, signal: options.signal };
      try {
        validateKey(name, key);
        checkAbort(context);
        return await driver.head(key, options);
      } catch (error) {
        throw fail(error, context);
      }
    },

    list(listPrefix, options = {}) {
      const context: OperationContext = { op: "list", key: listPrefix, signal: options.signal };
      return listing(
        context,
        options.limit,
        () => validatePrefix(name, listPrefix),
        () => driver.list(listPrefix, options),
      );
    },

    listPrefixes(listPrefix, options = {}) {
      const context: OperationContext = {
        op: "listPrefixes",
        key: listPrefix,
        signal: options.signal,
      };
      return listing(
        context,
        options.limit,
        () => validateFolderPrefix(name, listPrefix),
        () =>
          driver.listPrefixes
            ? driver.listPrefixes(listPrefix, options)
            : folderNamesOf(driver.list(listPrefix, { signal: options.signal }), listPrefix),
      );
    },

    async delete(key, options = {}) {
      const context: OperationContext = { op: "delete", key, signal: options.signal };
      try {
        validateKey(name, key);
        checkAbort(context);
        await driver.delete(key, options);
      } catch (error) {
        throw fail(error, context);
      }
    },
  };
  const { sweep, close } = driver;
  if (sweep) {
    backend.sweep = async (sweepPrefix, options = {}) => {
      const context: OperationContext = { op: "sweep", key: sweepPrefix, signal: options.signal };
      try {
        validateFolderPrefix(name, sweepPrefix);
        checkAbort(context);
        return await sweep.call(driver, sweepPrefix, options);
      } catch (error) {
        throw fail(error, context);
      }
    };
  }
  if (close) backend.close = () => close.call(driver);
  return backend;
}
