import type { Readable } from "node:stream";
import { addAbortSignal } from "node:stream";
import { CancelledError, RemoteError, TrainableError } from "@trainable/core";
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
  /** "put", "get", "head", "list", "delete", "sweep" (a driver may name its own steps). */
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

/**
 * Builds a `RemoteBackend` from a driver's raw methods, enforcing the backend contract once
 * for every driver: keys, prefixes, ranges and put options are validated before any I/O
 * (`ValidationError`); an already aborted signal fails before any I/O and an abort during the
 * operation ends it (`CancelledError`); a `get`'s body is tied to the signal; `list` stops at
 * `limit`; a `put` that fails destroys its body stream; every error leaves as a
 * `TrainableError` whose message starts with `[storage] [name]`. See docs/writing-a-backend.md.
 */
export function defineBackend(definition: BackendDefinition): RemoteBackend {
  const { name, description, capabilities, driver } = definition;
  if (typeof name !== "string" || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw optionError("backend", "name", "must be a lowercase word (letters, digits, '-')");
  }
  const prefix = `[storage] [${name}]`;
  const fail = (error: unknown, context: OperationContext): Error => {
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
  const checkAbort = (context: OperationContext) =>
    CancelledError.throwIfAborted(context.signal, `${prefix} ${context.op} "${context.key}"`);

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

    async *list(listPrefix, options = {}) {
      const context: OperationContext = { op: "list", key: listPrefix, signal: options.signal };
      try {
        validatePrefix(name, listPrefix);
        let left = options.limit ?? Number.POSITIVE_INFINITY;
        if (left <= 0) return;
        checkAbort(context);
        for await (const info of driver.list(listPrefix, options)) {
          checkAbort(context);
          yield info;
          if (--left <= 0) return;
        }
      } catch (error) {
        throw fail(error, context);
      }
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
        validatePrefix(name, sweepPrefix);
        if (sweepPrefix !== "" && !sweepPrefix.endsWith("/")) {
          throw optionError(
            name,
            "prefix",
            `must end with "/" (a folder), got ${JSON.stringify(sweepPrefix)}`,
          );
        }
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
