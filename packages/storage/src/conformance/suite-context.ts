import { describe } from "vitest";
import type { RemoteBackend } from "../backends/types.js";

/** What the groups of the conformance suite share. */
export interface SuiteContext {
  /** The backend under test (created before the first test). */
  backend(): RemoteBackend;
  /** A fresh folder-like prefix (`conformance-…/tN/`), one per test. */
  ns(): string;
  /** The prefix of every key this run writes. */
  run: string;
  manyKeys: number;
  bigBytes: number;
}

/**
 * `describe(name, …)` for a group of the suite: its tests reach the backend under test
 * (created before the first test) through `backend()`.
 */
export function describeBackend(
  s: SuiteContext,
  name: string,
  tests: (backend: () => RemoteBackend) => void,
): void {
  describe(name, () => {
    tests(() => s.backend());
  });
}
