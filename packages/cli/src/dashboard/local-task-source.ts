import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  isFinalTaskState,
  isValidId,
  NotFoundError,
  type PostUpdate,
  parseWith,
} from "@trainable/core";
import {
  EngineInstance,
  type TaskEvent,
  TrainingTask,
  type TrainingUpdate,
} from "@trainable/plugin-runtime";
import { requestCancel } from "./cancel-request.js";
import type { CancelAnswer, TaskSource } from "./task-source.js";

export interface LocalTaskSourceOptions {
  /** The local engine's data dir (`--data-dir`). */
  dataDir: string;
  /** How often the task log is looked at while someone follows the events. Default 500 ms. */
  scanIntervalMs?: number;
  /** How long a cancel waits for the driving process to end the task. Default 15 s. */
  cancelWaitMs?: number;
  /** Unreadable task files (reported once each). */
  onProblem?: (message: string) => void;
}

const POST_UPDATE_KEYS = new Set(["state", "statusMessage", "output"]);

/** A recorded update as a `PostUpdate` (records of earlier versions hold a bare output). */
function asPostUpdate(update: TrainingUpdate["update"]): PostUpdate {
  return Object.keys(update).every((key) => POST_UPDATE_KEYS.has(key))
    ? (update as PostUpdate)
    : { output: update as PostUpdate["output"] };
}

interface Seen {
  /** mtime, size and inode of `task.json` when it was read. */
  key: string;
  task: TrainingTask;
}

/**
 * The trainings of the local engine as its task log on `dataDir` shows them: each task's
 * `tasks/{id}/task.json`, written (atomically) by the process that drives it. The log is
 * re-read only where a file changed, every `scanIntervalMs` while a page follows the events,
 * and turned into task events (`created`, `update`, `finished`).
 */
export function createLocalTaskSource(options: LocalTaskSourceOptions): TaskSource {
  const tasksDir = join(options.dataDir, "tasks");
  const instancesDir = join(options.dataDir, "instances");
  const interval = options.scanIntervalMs ?? 500;
  const seen = new Map<string, Seen>();
  const reported = new Set<string>();
  const listeners = new Set<(event: TaskEvent) => void>();
  let scanning: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const problem = (key: string, message: string) => {
    if (reported.has(key)) return;
    reported.add(key);
    options.onProblem?.(message);
  };

  async function readTask(id: string): Promise<void> {
    const file = join(tasksDir, id, "task.json");
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return;
    const key = `${info.mtimeMs}:${info.size}:${info.ino}`;
    const before = seen.get(id);
    if (before?.key === key) return;
    let task: TrainingTask;
    try {
      task = parseWith(TrainingTask, JSON.parse(await readFile(file, "utf8")), file, "cli");
    } catch (error) {
      problem(key, `skipped ${file}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    seen.set(id, { key, task });
    if (before && before.task.updatedAt === task.updatedAt) return;
    const type: TaskEvent["type"] =
      isFinalTaskState(task.state) && !(before && isFinalTaskState(before.task.state))
        ? "finished"
        : before
          ? "update"
          : "created";
    const last = task.updates.at(-1);
    const event: TaskEvent = { type, taskId: id, task };
    if (last && last.at !== before?.task.updates.at(-1)?.at)
      event.update = asPostUpdate(last.update);
    for (const listener of listeners) listener(event);
  }

  async function scanOnce(): Promise<void> {
    const names = await readdir(tasksDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [] as string[];
      throw error;
    });
    for (const name of names) {
      // A finished task's record is never written again: it is not looked at again.
      const known = seen.get(name)?.task;
      if (isValidId(name) && !(known && isFinalTaskState(known.state))) await readTask(name);
    }
  }

  /** One scan at a time: callers arriving during one share it. */
  const scan = (): Promise<void> =>
    (scanning ??= scanOnce().finally(() => {
      scanning = undefined;
    }));

  const sorted = () =>
    [...seen.values()].map((s) => s.task).sort((a, b) => b.createdAt.localeCompare(a.createdAt));

  return {
    kind: "local",

    async listInstances() {
      const names = await readdir(instancesDir).catch(() => [] as string[]);
      const instances: EngineInstance[] = [];
      for (const name of names) {
        if (!name.endsWith(".json") || !isValidId(name.slice(0, -5))) continue;
        const file = join(instancesDir, name);
        try {
          const value = JSON.parse(await readFile(file, "utf8"));
          instances.push(parseWith(EngineInstance, value, file, "cli"));
        } catch (error) {
          problem(file, `skipped ${file}: ${error instanceof Error ? error.message : error}`);
        }
      }
      return instances.sort((a, b) => a.id.localeCompare(b.id));
    },

    async listTasks() {
      await scan();
      return sorted();
    },

    async getTask(taskId) {
      if (isValidId(taskId)) await readTask(taskId);
      return seen.get(taskId)?.task;
    },

    subscribe(listener) {
      listeners.add(listener);
      timer ??= setInterval(() => {
        void scan().catch((error: unknown) => problem(String(error), `scan failed: ${error}`));
      }, interval);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },

    async cancel(taskId): Promise<CancelAnswer> {
      const known = await this.getTask(taskId);
      if (!known) throw new NotFoundError(`[cli] Unknown task "${taskId}"`);
      if (isFinalTaskState(known.state)) return { task: known, requested: false };
      await requestCancel(options.dataDir, taskId);
      const until = Date.now() + (options.cancelWaitMs ?? 15_000);
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const task = (await this.getTask(taskId)) ?? known;
        if (isFinalTaskState(task.state)) return { task, requested: false };
        if (Date.now() >= until) return { task, requested: true };
      }
    },

    async close() {
      listeners.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
      await scanning?.catch(() => {});
    },
  };
}
