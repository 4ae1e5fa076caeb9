/**
 * One waiter at a time, woken by the next `wake()` (a `wake()` with no one waiting is a no-op):
 * how the worker wrappers sleep until their worker answers.
 */
export class Wakeup {
  #waiter?: () => void;

  /** Resolves at the next `wake()`. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
  }

  wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}
