import type { CheckpointStore } from "../ports/checkpoint-store.js";
import type { PostUpdate } from "../schemas/post-update.js";
import type { TrainPluginOutput } from "../schemas/train-plugin-output.js";

/** Where a training's checkpoint is saved, for plugins that save it themselves. */
export interface TrainCheckpointScope {
  store: CheckpointStore;
  pluginInstanceId: string;
  /** The handle the engine records for this training: save to it. */
  handle: string;
  setAsDefault: boolean;
}

/** What `train` and `trainStatus` get besides the request. */
export interface TrainContext {
  /**
   * Streams the training's state while it runs: `{ state?, statusMessage?, output? }`, or just
   * partial output (`{ trainingProgress: { epoch: 2, of: 5 } }`). The update is checked at the
   * call: an invalid one throws a `ValidationError` naming the field, and nothing is recorded.
   * Delivered live to the engine (in-process, over HTTP, and to the CLI).
   */
  postUpdate(update: PostUpdate | Partial<TrainPluginOutput>): void;
  /** Aborted when the training is cancelled or times out. Check it between steps. */
  signal: AbortSignal;
  /** A private scratch folder for this training, removed when it ends. */
  scratchDir: string;
  /**
   * Where the finished model goes, for a plugin that saves it itself (the original's
   * style: `model.saveRemote({ ...context.checkpoint })`, then return its `archivePath`). The
   * runtime sets it; the handle it records is the one saved there.
   */
  checkpoint?: TrainCheckpointScope;
}
