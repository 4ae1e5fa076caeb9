import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Id, isFinalTaskState, isValidId, type PostUpdate, parseWith } from "@trainable/core";
import { type TaskEvent, TrainingTask, type TrainingUpdate } from "@trainable/plugin-runtime";

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

export interface LocalTaskLogOptions {
  /** `{dataDir}/tasks`: one folder per task, holding its `task.json`. */
  tasksDir: string;
  /** Called with every change found (`created`, `update`, `finished`). */
  onEvent: (event: TaskEvent) => void;
  /** A task file that cannot be read, once per version of the file. */
  problem: (key: string, message: string) => void;
}

/** The local engine's task log, as read so far. */
export interface LocalTaskLog {
  /** Re-reads one task's record if its file changed. */
  readTask(id: Id): Promise<void>;
  /** Looks at every task folder (one scan at a time: callers during one share it). */
  scan(): Promise<void>;
  /** The task last read under this id. */
  get(id: string): TrainingTask | undefined;
  /** Every task read, newest first. */
  sorted(): TrainingTask[];
  /** Resolves when the scan under way (if any) ended. */
  settled(): Promise<void>;
}

/**
 * Reads the task log: each task's `tasks/{id}/task.json`, written (atomically) by the process
 * that drives it, re-read only where the file changed, and turned into task events.
 */
export function createLocalTaskLog(options: LocalTaskLogOptions): LocalTaskLog {
  const { tasksDir, onEvent, problem } = options;
  const seen = new Map<string, Seen>();
  let scanning: Promise<void> | undefined;

  async function readTask(id: Id): Promise<void> {
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
    onEvent(event);
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

  return {
    readTask,
    scan: () =>
      (scanning ??= scanOnce().finally(() => {
        scanning = undefined;
      })),
    get: (id) => seen.get(id)?.task,
    sorted: () =>
      [...seen.values()].map((s) => s.task).sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    settled: async () => {
      await scanning?.catch(() => {});
    },
  };
}
