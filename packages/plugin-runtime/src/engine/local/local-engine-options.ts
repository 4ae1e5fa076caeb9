import type { CheckpointStore, ModelCache } from "@trainable/core";
import type { Clock } from "../clock.js";
import type { DriveHooks, EngineLogger } from "../drive-context.js";
import type { PollPolicy } from "../poll-policy.js";

export interface LocalEngineOptions {
  /** Where checkpoints are saved and loaded (for in-process plugins). */
  store: CheckpointStore;
  /** The model cache in-process plugins serve through; saves notify it. */
  cache?: ModelCache | false;
  /** The engine's own state: instances, tasks, in-training model folders. */
  dataDir: string;
  /** Time source, for tests. */
  clock?: Clock;
  /** Pacing of status checks. */
  pollPolicy?: Partial<PollPolicy>;
  /** Overall timeout of a training when `train` is given none. Default 24 h. */
  defaultTimeoutMs?: number;
  /** Post-updates kept per task (older ones are dropped). Default 100. */
  maxUpdatesPerTask?: number;
  logger?: EngineLogger;
  /** Observes the driver at its write-ahead points (tests stop the process there). */
  hooks?: DriveHooks;
}
