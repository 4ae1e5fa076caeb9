export * from "./archive/index.js";
export * from "./backends/index.js";
export {
  type CheckpointStoreImpl,
  type CreateCheckpointStoreOptions,
  createCheckpointStore,
} from "./checkpoint/create-checkpoint-store.js";
export type { GcOptions, GcResult } from "./checkpoint/garbage-collect.js";
export { type PruneOptions, type PruneResult, selectPrunable } from "./checkpoint/prune.js";
export type {
  BadBlob,
  RepairedVersion,
  VerifyOptions,
  VerifyResult,
} from "./checkpoint/verify-blobs.js";
