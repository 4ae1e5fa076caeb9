import { setTimeout as delay } from "node:timers/promises";
import { abortError } from "../util/race-signal.js";

/** Time, injectable for tests: the engine reads the time and waits only through this. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  async sleep(ms, signal) {
    try {
      await delay(ms, undefined, { signal });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal, "Wait");
      throw error;
    }
  },
};
