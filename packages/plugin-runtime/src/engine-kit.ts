// `@trainable/plugin-runtime/engine`: the pieces for writing a training engine (as
// `@trainable/engine-bullmq` does) — the write-ahead driver and what it needs, the shared
// checks and records of both engines, and the plugin side of the training lifecycle.
export { checkTimeout, DEFAULT_TIMEOUT_MS } from "./engine/check-timeout.js";
export { consoleLogger } from "./engine/console-logger.js";
export {
  CLOSING,
  type DriveContext,
  type DriveHooks,
  type DrivePoint,
  type DriveTarget,
  type EngineLogger,
} from "./engine/drive-context.js";
export { type DriveOptions, driveTraining } from "./engine/drive-training.js";
export { errorInfo } from "./engine/error-info.js";
export { type FinishDetails, finish } from "./engine/finish.js";
export { type InstanceSpec, nextInstance, parseInstanceSpec } from "./engine/instance-spec.js";
export { newTrainingTask, parseTrainInput, saveTarget } from "./engine/new-training-task.js";
export {
  DEFAULT_POLL_POLICY,
  nextPollDelay,
  type PollPolicy,
  resolvePollPolicy,
} from "./engine/poll-policy.js";
export { stopRemote } from "./engine/stop-remote.js";
export { toPluginClient } from "./engine/to-plugin-client.js";
export { taskSubscriptions, type WatchTaskOptions, watchTask } from "./engine/watch-task.js";
export {
  createTrainingCoordinator,
  type TrainCallOptions,
  type TrainingCoordinator,
  type TrainingCoordinatorOptions,
  type TrainResponse,
} from "./training/create-training-coordinator.js";
export { generateTaskHandle } from "./training/generate-task-handle.js";
export { mergeTrainingParameters } from "./training/merge-training-parameters.js";
