import { basename, isAbsolute, relative } from "node:path";
import type { EngineInstance, TrainingTask } from "@trainable/plugin-runtime";
import type { TaskSource } from "./task-source.js";

/**
 * A path as a read-only dashboard shows it: relative to `cwd` when inside it, else only its
 * last part — never where the machine's folders are.
 */
export function shownPath(path: string, cwd: string): string {
  const inside = relative(cwd, path);
  if (inside === "") return ".";
  if (!inside.startsWith("..") && !isAbsolute(inside)) return inside;
  return `…/${basename(path)}`;
}

/** An instance without its config (where a plugin's secrets live). */
function withoutConfig<T extends Pick<EngineInstance, "id" | "plugin">>(
  instance: T,
): Omit<T, "config"> & { configHidden: true } {
  const { config: _config, ...rest } = instance as T & { config?: unknown };
  return { ...rest, configHidden: true };
}

/**
 * A task as a read-only dashboard shows it: its state, progress, updates, results and save,
 * without the input (training params, the data's URL or path), the plugin's parameters and
 * remote status, or the archive's path.
 */
function publicTask(task: TrainingTask): TrainingTask {
  const {
    input: _input,
    trainPluginInput: _merged,
    trainingParameters: _params,
    remoteStatus: _remote,
    ...rest
  } = task;
  const output = task.output ? { ...task.output, archivePath: undefined } : undefined;
  return { ...rest, ...(output ? { output } : {}) } as TrainingTask;
}

/** The task source a read-only dashboard reads: no configs, no task inputs or paths. */
export function readOnlyTasks(source: TaskSource): TaskSource {
  return {
    kind: source.kind,
    listInstances: async () => (await source.listInstances()).map(withoutConfig),
    listTasks: async () => (await source.listTasks()).map(publicTask),
    getTask: async (taskId) => {
      const task = await source.getTask(taskId);
      return task && publicTask(task);
    },
    subscribe: (listener) =>
      source.subscribe((event) => listener({ ...event, task: publicTask(event.task) })),
    cancel: async (taskId) => {
      const answer = await source.cancel(taskId);
      return { ...answer, task: publicTask(answer.task) };
    },
    close: () => source.close(),
  };
}
