/** Runs `fn` after every earlier call for the same key (read-modify-write safety). */
export type KeyedLock = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

/**
 * A lock per key: each call runs after the calls for the same key before it, whether they
 * succeeded or failed; calls for other keys are not held up. A key is forgotten once idle.
 */
export function createKeyedLock(): KeyedLock {
  const locks = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    locks.set(key, settled);
    void settled.then(() => {
      if (locks.get(key) === settled) locks.delete(key);
    });
    return run;
  };
}
