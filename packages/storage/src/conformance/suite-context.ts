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
