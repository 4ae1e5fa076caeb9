import type { CheckpointRef } from "@trainable/core";
import type { CacheLogger } from "./cache-logger.js";
import type { ModelMemory } from "./model-memory.js";

export interface KnownHandle {
  ref: CheckpointRef;
  /** When the resolution that returned `ref` started (the `now` clock). */
  verifiedAt: number;
  /** False after `invalidate`: the next call asks the store (`ref` stays the stale fallback). */
  trusted: boolean;
  /** The memory key of `ref` for the kind last asked (the fast path builds no string). */
  kindKey?: string;
  memoryKey?: string;
}

/** Revalidations of a handle failing in a row (anything but not-found). */
export interface FailureStreak {
  error: unknown;
  /** When the first failed resolution of the streak started. */
  since: number;
  /** No background retry before this (the `now` clock). */
  retryAt: number;
  /** The warning of this streak has been logged. */
  warned: boolean;
}

function errorText(error: unknown): string {
  if (error === undefined) return "no answer";
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function ageText(ms: number): string {
  if (!Number.isFinite(ms)) return "an unknown time";
  return ms < 10_000 ? `${Math.max(0, Math.round(ms))} ms` : `${Math.round(ms / 1000)} s`;
}

/**
 * What this cache knows of each handle (`{pluginInstanceId}/{handle}`): the version it points
 * at, when that was verified, and the failure streak of its revalidations. A version no known
 * handle points at any more leaves memory.
 */
export class HandleTable {
  readonly known = new Map<string, KnownHandle>();
  readonly failures = new Map<string, FailureStreak>();
  /** Bumped by notifySaved/invalidate/clear: a resolution that started earlier is not stored. */
  epoch = 0;
  readonly #workspace: string;
  readonly #memory: ModelMemory;
  readonly #logger: CacheLogger;
  readonly #now: () => number;

  constructor(options: {
    workspace: string;
    memory: ModelMemory;
    logger: CacheLogger;
    now: () => number;
  }) {
    this.#workspace = options.workspace;
    this.#memory = options.memory;
    this.#logger = options.logger;
    this.#now = options.now;
  }

  describe(pluginInstanceId: string, handle: string): string {
    return `handle "${handle}" of ${this.#workspace}/${pluginInstanceId}`;
  }

  /** The start of the memory keys of one version: `{workspace}/{pluginInstanceId}@{digest}#`. */
  versionPrefix(pluginInstanceId: string, digest: string): string {
    return `${this.#workspace}/${pluginInstanceId}@${digest}#`;
  }

  get(pluginInstanceId: string, handle: string): KnownHandle | undefined {
    return this.known.get(`${pluginInstanceId}/${handle}`);
  }

  /** True when a handle of the instance this cache knows (trusted or not) points at `digest`. */
  referenced(pluginInstanceId: string, digest: string): boolean {
    const prefix = `${pluginInstanceId}/`;
    for (const [key, known] of this.known) {
      if (key.startsWith(prefix) && known.ref.digest === digest) return true;
    }
    return false;
  }

  set(pluginInstanceId: string, handle: string, known: KnownHandle): void {
    const key = `${pluginInstanceId}/${handle}`;
    const previous = this.known.get(key);
    this.known.set(key, known);
    if (previous && previous.ref.digest !== known.ref.digest) {
      this.#retire(pluginInstanceId, previous.ref.digest);
    }
  }

  forget(pluginInstanceId: string, handle: string): void {
    const key = `${pluginInstanceId}/${handle}`;
    const previous = this.known.get(key);
    if (!previous) return;
    this.known.delete(key);
    this.#retire(pluginInstanceId, previous.ref.digest);
  }

  /** Marks a handle (or every handle of the instance) as to be asked again. */
  distrust(pluginInstanceId: string, handle?: string): void {
    this.epoch++;
    if (handle !== undefined) {
      const known = this.get(pluginInstanceId, handle);
      if (known) known.trusted = false;
      return;
    }
    for (const [key, known] of this.known) {
      if (key.startsWith(`${pluginInstanceId}/`)) known.trusted = false;
    }
  }

  clear(): void {
    this.epoch++;
    this.known.clear();
    this.failures.clear();
  }

  /** Records a failed revalidation (started at `startedAt`); no retry before `retryMs`. */
  failed(
    pluginInstanceId: string,
    handle: string,
    error: unknown,
    timing: { startedAt: number; retryMs: number },
  ): void {
    const key = `${pluginInstanceId}/${handle}`;
    const streak = this.failures.get(key);
    this.failures.set(key, {
      error,
      since: streak?.since ?? timing.startedAt,
      retryAt: this.#now() + timing.retryMs,
      warned: streak?.warned ?? false,
    });
  }

  endStreak(pluginInstanceId: string, handle: string): void {
    const key = `${pluginInstanceId}/${handle}`;
    const streak = this.failures.get(key);
    if (!streak) return;
    this.failures.delete(key);
    if (streak.warned) {
      this.#logger.info?.(
        `[cache] The store answers again for ${this.describe(pluginInstanceId, handle)}: no longer serving a stale version`,
      );
    }
  }

  /** Warns once per failure streak that a stale version is served. */
  servedStale(pluginInstanceId: string, handle: string, known: KnownHandle): void {
    const key = `${pluginInstanceId}/${handle}`;
    const now = this.#now();
    let streak = this.failures.get(key);
    if (!streak) {
      streak = { error: undefined, since: now, retryAt: now, warned: false };
      this.failures.set(key, streak);
    }
    if (streak.warned) return;
    streak.warned = true;
    this.#logger.warn?.(
      `[cache] Serving the last verified version ${known.ref.digest} of ${this.describe(pluginInstanceId, handle)} (verified ${ageText(now - known.verifiedAt)} ago): revalidating it failed: ${errorText(streak.error)}`,
    );
  }

  /**
   * Drops a version no known handle points at any more from memory: each of its models is
   * disposed once its last lease is released.
   */
  #retire(pluginInstanceId: string, digest: string): void {
    if (this.referenced(pluginInstanceId, digest)) return;
    this.#memory.dropPrefix(
      this.versionPrefix(pluginInstanceId, digest),
      "no handle points at it any more",
    );
  }
}
