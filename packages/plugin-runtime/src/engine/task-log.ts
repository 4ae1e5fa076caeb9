import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { isValidId, parseWith } from "@trainable/core";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";
import { EngineInstance } from "./engine-instance.js";
import { TrainingTask } from "./training-task.js";

/**
 * The engine's task log: where it keeps its trainings and instances under `dataDir`, and how
 * it reads and writes them (not to be confused with the checkpoint store).
 */
export interface TaskLog {
  /** `{dataDir}/tasks/{taskId}` */
  taskDir(taskId: string): string;
  /** `{dataDir}/tasks/{taskId}/model`: the in-training model's folder (in-process plugins). */
  modelDir(taskId: string): string;
  /** One task as its file says (`undefined` when it has none); an unreadable file throws. */
  readTask(taskId: string): Promise<TrainingTask | undefined>;
  /** Every readable task; unreadable files are reported in `problems` and left alone. */
  loadTasks(): Promise<{ tasks: TrainingTask[]; problems: string[] }>;
  /**
   * Writes a task atomically. Writes of one task are serialized and coalesced: the returned
   * promise resolves once a version at least as new as `task` is on disk.
   */
  writeTask(task: TrainingTask): Promise<void>;
  loadInstances(): Promise<{ instances: EngineInstance[]; problems: string[] }>;
  writeInstance(instance: EngineInstance): Promise<void>;
  /** Waits for every pending write. */
  flush(): Promise<void>;
}

interface Writer {
  latest: TrainingTask;
  dirty: boolean;
  running?: Promise<void>;
}

export async function createTaskLog(
  dataDir: string,
  onError: (message: string, error: unknown) => void,
): Promise<TaskLog> {
  const tasksDir = join(dataDir, "tasks");
  const instancesDir = join(dataDir, "instances");
  await mkdir(tasksDir, { recursive: true });
  await mkdir(instancesDir, { recursive: true });
  const writers = new Map<string, Writer>();
  const taskFile = (taskId: string) => join(tasksDir, taskId, "task.json");

  async function drain(taskId: string, writer: Writer): Promise<void> {
    while (writer.dirty) {
      writer.dirty = false;
      try {
        await writeJsonAtomic(taskFile(taskId), writer.latest);
      } catch (error) {
        onError(`[runtime] Could not record task ${taskId} under ${tasksDir}`, error);
      }
    }
    writer.running = undefined;
  }

  async function readAll<T>(
    dir: string,
    files: string[],
    parse: (value: unknown, file: string) => T,
  ): Promise<{ items: T[]; problems: string[] }> {
    const items: T[] = [];
    const problems: string[] = [];
    for (const file of files) {
      const path = join(dir, file);
      try {
        const value = await readJsonFile(path);
        if (value !== undefined) items.push(parse(value, path));
      } catch (error) {
        problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { items, problems };
  }

  return {
    taskDir: (taskId) => join(tasksDir, taskId),
    modelDir: (taskId) => join(tasksDir, taskId, "model"),

    async readTask(taskId) {
      const path = taskFile(taskId);
      const value = await readJsonFile(path);
      return value === undefined
        ? undefined
        : parseWith(TrainingTask, value, `task file ${path}`, "runtime");
    },

    async loadTasks() {
      const entries = (await readdir(tasksDir, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && isValidId(entry.name))
        .map((entry) => join(entry.name, "task.json"));
      const { items, problems } = await readAll(tasksDir, entries, (value, path) =>
        parseWith(TrainingTask, value, `task file ${path}`, "runtime"),
      );
      return { tasks: items, problems };
    },

    writeTask(task) {
      let writer = writers.get(task.taskId);
      if (!writer) {
        writer = { latest: task, dirty: false };
        writers.set(task.taskId, writer);
      }
      writer.latest = structuredClone(task);
      writer.dirty = true;
      writer.running ??= drain(task.taskId, writer);
      return writer.running;
    },

    async loadInstances() {
      const files = (await readdir(instancesDir)).filter(
        (name) => name.endsWith(".json") && isValidId(name.slice(0, -5)),
      );
      const { items, problems } = await readAll(instancesDir, files, (value, path) =>
        parseWith(EngineInstance, value, `instance file ${path}`, "runtime"),
      );
      return { instances: items, problems };
    },

    writeInstance: (instance) =>
      writeJsonAtomic(join(instancesDir, `${instance.id}.json`), instance),

    async flush() {
      await Promise.all([...writers.values()].map((writer) => writer.running));
    },
  };
}
