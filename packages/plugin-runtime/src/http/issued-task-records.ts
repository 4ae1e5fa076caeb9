import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Id, ValidationError } from "@trainable/core";
import { writeJsonAtomic } from "../util/write-json-atomic.js";
import { readIssuedTaskFile, recordIds } from "./issued-task-file.js";
import type { IssuedTask } from "./issued-tasks.js";
import { pruneIssuedTaskFiles, removeIssuedTaskFile } from "./prune-issued-task-files.js";

/** How many tasks are kept (oldest ended first out) by default. */
const DEFAULT_MAX_TASKS = 10_000;
/** How long an ended task's record is kept by default: 7 days. */
const DEFAULT_ENDED_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** At most one prune of the records per this (or per retention, when shorter). */
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

export interface IssuedTaskRecordsOptions {
  /** Folder of the records (`{dir}/{taskId}.json`); omitted: memory only. */
  dir?: string;
  /**
   * Records kept. In memory: the last ones written, an ended one dropped first when full
   * (else the oldest). In `dir`: ended records beyond this count are removed, oldest end
   * first; records of trainings not seen to end are never removed. Default 10 000.
   */
  maxTasks?: number;
  /**
   * How long the record of an ended training is kept after its end, in ms (so a client that
   * lost the final answer can repeat its status check). Default 7 days.
   */
  endedRetentionMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /**
   * Reports a failed background prune of `dir` (the next one is tried an interval later). An
   * error it throws is ignored.
   */
  onPruneError?: (error: unknown) => void;
}

/** Where issued-task records are kept: one JSON file per task, or a bounded map in memory. */
export interface IssuedTaskRecords {
  /** The record of a task; undefined when there is none, or it is unreadable. */
  read(taskId: Id): Promise<IssuedTask | undefined>;
  /**
   * Writes the record of `taskId` (`task.taskId`). With a `dir`, starts a prune of it in the
   * background when none ran (on this server or another on the folder) for an interval.
   */
  write(taskId: Id, task: IssuedTask): Promise<void>;
  list(): Promise<IssuedTask[]>;
  remove(taskId: Id): Promise<void>;
  /** Prunes now (after the background prune running, if any). */
  prune(): Promise<void>;
  /** Resolves once no background prune is running. */
  idle(): Promise<void>;
}

export function createIssuedTaskRecords(options: IssuedTaskRecordsOptions): IssuedTaskRecords {
  const { dir } = options;
  const maxTasks = positiveInteger(options.maxTasks, DEFAULT_MAX_TASKS, "maxTasks");
  const endedRetentionMs = positiveInteger(
    options.endedRetentionMs,
    DEFAULT_ENDED_RETENTION_MS,
    "endedRetentionMs",
  );
  const intervalMs = Math.min(PRUNE_INTERVAL_MS, endedRetentionMs);
  const now = options.now ?? (() => new Date());
  const memory = createMemoryRecords(maxTasks, endedRetentionMs);
  const fileOf = (taskId: Id) => join(dir as string, `${taskId}.json`);
  const read = (taskId: Id) =>
    dir ? readIssuedTaskFile(fileOf(taskId), taskId) : Promise.resolve(memory.get(taskId));
  // Never throws: a report that fails (a user's logger) must not reject `pruning`, which
  // nothing awaits between writes (an unhandled rejection ends the process).
  const reportPruneError = (error: unknown) => {
    try {
      options.onPruneError?.(error);
    } catch {
      // nowhere left to report it; the next prune is tried an interval later
    }
  };
  let lastPrune = Number.NEGATIVE_INFINITY;
  let pruning: Promise<void> = Promise.resolve();
  const pruneDir = (at: Date, interval: number) =>
    pruneIssuedTaskFiles({
      dir: dir as string,
      now: at,
      endedRetentionMs,
      maxTasks,
      intervalMs: interval,
    });

  return {
    read,
    async write(taskId, task) {
      const at = now();
      const due = at.getTime() - lastPrune >= intervalMs;
      if (due) lastPrune = at.getTime();
      if (!dir) {
        memory.set(taskId, task, due ? at : undefined);
        return;
      }
      await writeJsonAtomic(fileOf(taskId), { version: 1, ...task });
      if (due) {
        pruning = pruning
          .then(() => pruneDir(at, intervalMs))
          .then(
            () => {},
            (error: unknown) => reportPruneError(error),
          );
      }
    },
    async list() {
      if (!dir) return memory.values();
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      const tasks = await Promise.all(recordIds(names).map((taskId) => read(taskId as Id)));
      return tasks.filter((t): t is IssuedTask => t !== undefined);
    },
    async remove(taskId) {
      memory.delete(taskId);
      if (dir) await removeIssuedTaskFile(dir, taskId);
    },
    async prune() {
      await pruning;
      const at = now();
      lastPrune = at.getTime();
      if (dir) await pruneDir(at, 0);
      else memory.prune(at);
    },
    idle: () => pruning,
  };
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw ValidationError.forField("runtime", `servedTasks.${name}`, "must be a positive integer");
  }
  return value;
}

/** The records in memory: the last `maxTasks` written, in write order. */
function createMemoryRecords(maxTasks: number, endedRetentionMs: number) {
  const map = new Map<string, IssuedTask>();
  const isEnded = (task: IssuedTask) => task.endedAt !== undefined;
  const prune = (at: Date) => {
    const cutoff = at.getTime() - endedRetentionMs;
    for (const [taskId, task] of map) {
      if (task.endedAt !== undefined && Date.parse(task.endedAt) <= cutoff) map.delete(taskId);
    }
  };
  return {
    get: (taskId: string) => map.get(taskId),
    values: () => [...map.values()],
    delete: (taskId: string) => map.delete(taskId),
    prune,
    /** Writes `task`; `pruneAt`: drop the ended records past the retention first. */
    set(taskId: string, task: IssuedTask, pruneAt: Date | undefined) {
      if (pruneAt) prune(pruneAt);
      map.delete(taskId);
      map.set(taskId, task);
      while (map.size > maxTasks) {
        // The oldest ended one (not the one just written), else the oldest.
        let drop: string | undefined;
        for (const [key, value] of map) {
          if (key !== taskId && isEnded(value)) {
            drop = key;
            break;
          }
        }
        map.delete(drop ?? (map.keys().next().value as string));
      }
    },
  };
}
