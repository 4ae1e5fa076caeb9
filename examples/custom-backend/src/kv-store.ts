/**
 * The key-value store the example backend adapts: the kind of API a database, Redis or a
 * cloud KV service offers. Values are stored whole; every write gives the value a new version;
 * `setIf` is the store's one atomic conditional write.
 */
export interface KvStore {
  get(key: string): Promise<{ value: Uint8Array; version: string; modifiedAt: Date } | undefined>;
  /** Writes `value` when the key's current version is `expected` (`null`: only if absent). Returns the new version, or `undefined` when the condition failed. */
  setIf(key: string, value: Uint8Array, expected: string | null): Promise<string | undefined>;
  /** Writes `value` whatever is there. Returns the new version. */
  set(key: string, value: Uint8Array): Promise<string>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, in any order. */
  keys(prefix: string): Promise<string[]>;
}

/** What a `KvStore` throws when it cannot answer (a lost connection, a timeout). */
export class KvUnavailableError extends Error {
  override readonly name = "KvUnavailableError";
}

/**
 * An in-process `KvStore`, for the example and its tests. `unavailable()` makes every call
 * fail until `available()`, as a store whose connection dropped would.
 */
export function createMapKv(): KvStore & { unavailable(): void; available(): void } {
  const values = new Map<string, { value: Uint8Array; version: string; modifiedAt: Date }>();
  let counter = 0;
  let down = false;
  const check = async () => {
    if (down) throw new KvUnavailableError("the key-value store does not answer");
  };
  const write = (key: string, value: Uint8Array): string => {
    const version = `v${++counter}`;
    values.set(key, { value: Uint8Array.from(value), version, modifiedAt: new Date() });
    return version;
  };
  return {
    async get(key) {
      await check();
      return values.get(key);
    },
    async setIf(key, value, expected) {
      await check();
      // No await between the check and the write: atomic within the process.
      const current = values.get(key);
      if ((current?.version ?? null) !== expected) return undefined;
      return write(key, value);
    },
    async set(key, value) {
      await check();
      return write(key, value);
    },
    async delete(key) {
      await check();
      values.delete(key);
    },
    async keys(prefix) {
      await check();
      return [...values.keys()].filter((key) => key.startsWith(prefix));
    },
    unavailable() {
      down = true;
    },
    available() {
      down = false;
    },
  };
}
