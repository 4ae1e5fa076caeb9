export { defaultCacheDir } from "@trainable/core";
export type { CacheLogger } from "./cache/cache-logger.js";
export { createModelCache, type ModelCacheImpl } from "./cache/create-model-cache.js";
export type { CreateModelCacheOptions } from "./cache/create-model-cache-options.js";
export type { ModelCacheStats } from "./cache/model-cache-stats.js";
export type { ModelLease, ModelLoadOptions } from "./cache/model-lease.js";
export type { VerifyLevel } from "./disk/verify-entry.js";
