import { CancelledError } from "@trainable/core";

interface Flight<V> {
  promise: Promise<V>;
  controller: AbortController;
  waiters: number;
}

/** Options of {@link SingleFlight.run}. */
export interface RunOptions<V> {
  /** Cancels this caller's wait (the shared work only when every waiter has gone). */
  signal?: AbortSignal;
  /** Names the work in a `CancelledError`. */
  what?: string;
  /** Called when this call joins a run already in flight. */
  onJoin?: () => void;
  /**
   * Called with the value just before it is handed to this caller, synchronously in the same
   * reaction (so no other code runs in between): the place to take a hold on the value. Not
   * called for a caller that has gone (aborted).
   */
  claim?: (value: V) => void;
  /**
   * Only for the call that starts the run: called with its value once the run has succeeded
   * and been forgotten — after `claim` of every caller that was waiting when it settled. The
   * place to drop a hold the work took for its waiters.
   */
  onForgotten?: (value: V) => void;
}

/**
 * Shares one run of `work` between every concurrent caller of the same key.
 *
 * Each caller may pass its own `AbortSignal`: aborting it rejects that caller's wait with a
 * `CancelledError` at once, and the shared work itself is aborted only when every caller
 * waiting for it has gone. A settled run (success or failure) is forgotten, so a failure is
 * never cached.
 */
export class SingleFlight<V> {
  readonly #flights = new Map<string, Flight<V>>();

  /** Number of runs in flight. */
  get size(): number {
    return this.#flights.size;
  }

  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Runs `work` for `key`, or joins the run already in flight. */
  run(
    key: string,
    work: (signal: AbortSignal) => Promise<V>,
    options: RunOptions<V> = {},
  ): Promise<V> {
    const { signal } = options;
    CancelledError.throwIfAborted(signal, options.what ?? "[cache] load");
    let flight = this.#flights.get(key);
    if (flight) {
      options.onJoin?.();
    } else {
      const controller = new AbortController();
      const created: Flight<V> = {
        controller,
        waiters: 0,
        promise: Promise.resolve().then(() => work(controller.signal)),
      };
      // Registered first: runs before any waiter's reaction, and the removal it chains runs
      // after the reactions of every waiter that joined before the run settled.
      created.promise.then(
        (value) =>
          Promise.resolve()
            .then(() => {
              if (this.#flights.get(key) === created) this.#flights.delete(key);
              options.onForgotten?.(value);
            })
            .catch(() => {}),
        () => {
          if (this.#flights.get(key) === created) this.#flights.delete(key);
        },
      );
      this.#flights.set(key, created);
      flight = created;
    }
    return this.#wait(key, flight, signal, options.what, options.claim);
  }

  #wait(
    key: string,
    flight: Flight<V>,
    signal: AbortSignal | undefined,
    what?: string,
    claim?: (value: V) => void,
  ): Promise<V> {
    flight.waiters++;
    if (!signal) {
      return flight.promise.then(
        (value) => {
          flight.waiters--;
          claim?.(value);
          return value;
        },
        (error: unknown) => {
          flight.waiters--;
          throw error;
        },
      );
    }
    return new Promise<V>((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        flight.waiters--;
        if (flight.waiters === 0) {
          // Nobody wants the result any more: stop the work, and let new callers start afresh.
          if (this.#flights.get(key) === flight) this.#flights.delete(key);
          flight.controller.abort(signal.reason);
        }
        reject(new CancelledError(`${what ?? "[cache] load"} cancelled`, { cause: signal.reason }));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener("abort", onAbort);
          claim?.(value);
          resolve(value);
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }
}
