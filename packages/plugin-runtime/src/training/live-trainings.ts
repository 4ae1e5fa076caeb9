import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Task, TrainableModel } from "@trainable/core";
import type { AnyTrainablePluginService } from "../service/any-trainable-plugin-service.js";
import type { TrainCallOptions } from "./create-training-coordinator.js";
import { type KeptState, readState } from "./training-state.js";

/** A training whose model lives across calls. */
export interface LiveTraining {
  model: TrainableModel<unknown>;
  controllers: Set<AbortController>;
  /** The plugin's last `running` status. */
  status?: Task;
}

/** The in-training models of a coordinator, in memory and kept on disk between calls. */
export interface LiveTrainings {
  has(taskId: string): boolean;
  get(taskId: string): LiveTraining | undefined;
  /** Keeps a training's model in memory (the oldest ones beyond the limit are dropped). */
  remember(taskId: string, entry: LiveTraining): void;
  /** The live model of a task, or one rebuilt from its kept state (with its kept status). */
  modelFor(
    taskId: string,
    call: TrainCallOptions<unknown>,
  ): Promise<{ entry: LiveTraining; status?: Task }>;
  /** Where a training's state is kept between calls, if anywhere. */
  stateDirOf(taskId: string, call: TrainCallOptions<unknown>): string | undefined;
  /** The state kept for a training, if any. */
  keptState(taskId: string, call: TrainCallOptions<unknown>): Promise<KeptState | undefined>;
  scratchDirOf(taskId: string): string;
  /** Forgets a training: its model, kept state and scratch folder. */
  cleanup(taskId: string, call: TrainCallOptions<unknown>): Promise<void>;
}

export function createLiveTrainings(options: {
  service: AnyTrainablePluginService;
  maxLive: number;
  scratchRoot: string;
  stateRoot?: string;
}): LiveTrainings {
  const { service, maxLive, scratchRoot, stateRoot } = options;
  const live = new Map<string, LiveTraining>();
  const stateDirOf = (taskId: string, call: TrainCallOptions<unknown>) =>
    call.stateDir ?? (stateRoot ? join(stateRoot, taskId) : undefined);
  const scratchDirOf = (taskId: string) => join(scratchRoot, `trainable-train-${taskId}`);
  const remember = (taskId: string, entry: LiveTraining) => {
    live.delete(taskId);
    live.set(taskId, entry);
    while (live.size > maxLive) {
      const oldest = live.keys().next().value as string;
      live.delete(oldest);
    }
  };
  return {
    has: (taskId) => live.has(taskId),
    get: (taskId) => live.get(taskId),
    remember,
    stateDirOf,
    scratchDirOf,
    async keptState(taskId, call) {
      const stateDir = stateDirOf(taskId, call);
      return stateDir ? await readState(stateDir) : undefined;
    },
    async modelFor(taskId, call) {
      const existing = live.get(taskId);
      if (existing) return { entry: existing, status: existing.status };
      const model = service.createModel(call.instance.config);
      const stateDir = stateDirOf(taskId, call);
      const kept = stateDir ? await readState(stateDir) : undefined;
      if (kept) await model.loadFromFolder(kept.modelDir);
      const entry: LiveTraining = { model, controllers: new Set(), status: kept?.status };
      remember(taskId, entry);
      return { entry, status: kept?.status };
    },
    async cleanup(taskId, call) {
      live.delete(taskId);
      const stateDir = stateDirOf(taskId, call);
      await Promise.all([
        stateDir ? rm(stateDir, { recursive: true, force: true }) : undefined,
        stateDir ? rm(`${stateDir}.previous`, { recursive: true, force: true }) : undefined,
        rm(scratchDirOf(taskId), { recursive: true, force: true }),
      ]);
    },
  };
}
