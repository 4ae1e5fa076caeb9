import type { TrainPluginOutput } from "../schemas/train-plugin-output.js";

/** What `train` and `trainStatus` get besides the request. */
export interface TrainContext {
  /** Streams partial results (progress, metrics) while training. Never throws. */
  postUpdate(update: Partial<TrainPluginOutput>): void;
  /** Aborted when the training is cancelled or times out. Check it between steps. */
  signal: AbortSignal;
  /** A private scratch folder for this training, removed when it ends. */
  scratchDir: string;
}
