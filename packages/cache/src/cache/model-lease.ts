import type { CacheLoadOptions } from "@trainable/core";

export type { ModelLease } from "@trainable/core";

/**
 * What `getOrLoad`, `acquire` and `use` take: `CacheLoadOptions` of `@trainable/core` (which
 * carries `modelClass`, compared by identity, and `config`, compared as canonical JSON).
 */
export type ModelLoadOptions<M> = CacheLoadOptions<M>;
