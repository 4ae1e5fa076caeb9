export * from "./errors/index.js";
export { DEFAULT_HANDLE, ID_PATTERN, isValidId, validateId } from "./ids/validate-id.js";
export { comparePaths } from "./manifest/compare-paths.js";
export {
  type ManifestEntry,
  manifestDigest,
  manifestEntries,
  manifestLine,
} from "./manifest/manifest-digest.js";
export type { TrainCheckpointScope, TrainContext } from "./model/train-context.js";
export {
  type ConfigOf,
  type LoadRemoteOptions,
  modelCacheLoadOptions,
  type SaveRemoteOptions,
  type SaveRemoteResult,
  TrainableModel,
  type TrainableModelClass,
} from "./model/trainable-model.js";
export { defaultCacheDir } from "./paths/default-cache-dir.js";
export {
  CHECKPOINT_FORMAT_VERSION,
  CheckpointFile,
  type CheckpointManifest,
  CheckpointMetadata,
  CheckpointRef,
} from "./ports/checkpoint-ref.js";
export type {
  CheckpointLocator,
  CheckpointStore,
  FetchCheckpointOptions,
  SaveCheckpointOptions,
  SaveCheckpointResult,
  SetHandleOptions,
  TransferProgress,
  WithCheckpointOptions,
} from "./ports/checkpoint-store.js";
export type { CacheLoadOptions, ModelCache, ModelLease } from "./ports/model-cache.js";
export { Id } from "./schemas/id.js";
export {
  type InvocableResponse,
  invocableResponseSchema,
  ResponseError,
} from "./schemas/invocable-response.js";
export { JsonObject, jsonProblem } from "./schemas/json-object.js";
export { parseWith } from "./schemas/parse.js";
export { type PluginRequest, pluginRequestSchema } from "./schemas/plugin-request.js";
export { PluginRequestContext } from "./schemas/plugin-request-context.js";
export {
  PartialTrainPluginOutput,
  PostUpdate,
  parsePostUpdate,
} from "./schemas/post-update.js";
export { Task } from "./schemas/task.js";
export { FINAL_TASK_STATES, isFinalTaskState, TaskState } from "./schemas/task-state.js";
export { TrainPluginInput } from "./schemas/train-plugin-input.js";
export { TrainPluginOutput } from "./schemas/train-plugin-output.js";
export { TrainingParameterPluginInput } from "./schemas/training-parameter-plugin-input.js";
export {
  ExportPluginInput,
  TrainingParameterPluginOutput,
  trainingParametersFromInput,
} from "./schemas/training-parameter-plugin-output.js";
export {
  type ArgumentSite,
  checkCheckpointStore,
  checkModelCache,
  checkOptionsObject,
} from "./validation/check-argument.js";
export { describeValue, isPromiseLike } from "./validation/describe-value.js";
