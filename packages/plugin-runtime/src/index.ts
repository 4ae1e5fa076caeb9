export {
  createHttpPluginClient,
  type HttpPluginClientOptions,
} from "./client/create-http-plugin-client.js";
export {
  createLocalPluginClient,
  type LocalCallOptions,
  type LocalPluginClient,
  type LocalPluginClientOptions,
} from "./client/create-local-plugin-client.js";
export type { ClientRunOptions, ClientTrainOptions, PluginClient } from "./client/plugin-client.js";
export { type Clock, systemClock } from "./engine/clock.js";
export { createLocalEngine, type LocalEngineOptions } from "./engine/create-local-engine.js";
export type { DriveHooks, DrivePoint, EngineLogger } from "./engine/drive-context.js";
export { EngineInstance } from "./engine/engine-instance.js";
export {
  type CancelRequestAnswer,
  requestLocalCancel,
} from "./engine/local/request-cancel.js";
export type { LocalEngine, ResumeResult } from "./engine/local-engine.js";
export type { PollPolicy } from "./engine/poll-policy.js";
export type { TaskEvent } from "./engine/task-event.js";
export type {
  CreateInstanceOptions,
  EngineTrainInput,
  EngineTrainOptions,
  MaybePromise,
  TrainingEngine,
  TrainingRun,
} from "./engine/training-engine.js";
export { TrainingTask, TrainingUpdate } from "./engine/training-task.js";
export type { HostedEvent, HostedTask } from "./hosted/create-task-host.js";
export type { PluginAppLogger } from "./http/app-errors.js";
export { createPluginApp } from "./http/create-plugin-app.js";
export { type ErrorBody, errorBody } from "./http/error-body.js";
export { isLoopbackHostname } from "./http/loopback.js";
export type { PluginAppOptions } from "./http/plugin-app-options.js";
export { parseTokens, requireToken, type TokenOption } from "./http/require-token.js";
export { type ServedPlugin, type ServePluginOptions, servePlugin } from "./http/serve-plugin.js";
export { ClassifierInput } from "./plugin-types/classifier/classifier-input.js";
export { ClassifierOutput, LabelScore } from "./plugin-types/classifier/classifier-output.js";
export { ClassifierPluginService } from "./plugin-types/classifier/classifier-plugin-service.js";
export { TrainableClassifierPluginService } from "./plugin-types/classifier/trainable-classifier-plugin-service.js";
export { Block } from "./plugin-types/tagger/block.js";
export { Tag } from "./plugin-types/tagger/tag.js";
export { TaggerFile } from "./plugin-types/tagger/tagger-file.js";
export { TaggerInput } from "./plugin-types/tagger/tagger-input.js";
export { TaggerOutput } from "./plugin-types/tagger/tagger-output.js";
export { TaggerPluginService } from "./plugin-types/tagger/tagger-plugin-service.js";
export { TrainableTaggerPluginService } from "./plugin-types/tagger/trainable-tagger-plugin-service.js";
export type { AnyTrainablePluginService } from "./service/any-trainable-plugin-service.js";
export type {
  InstanceEntry,
  InstanceLookup,
  InstanceSource,
} from "./service/instance-lookup.js";
export type { ModelClass } from "./service/model-class.js";
export { type PluginInstance, PluginInstanceSpec } from "./service/plugin-instance.js";
export type { PluginRunContext } from "./service/plugin-run-context.js";
export { PluginService } from "./service/plugin-service.js";
export { TrainablePluginService } from "./service/trainable-plugin-service.js";
export type { TrainResponse } from "./training/create-training-coordinator.js";
export { generateHandle } from "./training/generate-handle.js";
export { SaveOptions } from "./training/save-options.js";
export { TrainRequest } from "./training/train-request.js";

export const VERSION = "0.0.0";
