import { basename, isAbsolute, relative, sep, win32 } from "node:path";
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

/**
 * An absolute path in free text: POSIX (`/home/…`), Windows (`C:\…`, `C:/…`, `\\server\…`)
 * or a `file:///…` URL, starting the text or after a space, quote, bracket, `=`, `,`, `;` or
 * `:`, and running to the next space, quote, bracket, `,` or `;`. Not a URL's path
 * (`https://host/path`), a ratio (`3/4`, `MB/s`) or a lone `/`.
 */
const ABSOLUTE_PATH =
  /(?<=^|[\s"'`([{<=,;:])(?:file:\/\/)?(?:\/(?=[^\s"'`<>()[\]{},;/])|[A-Za-z]:[\\/]|\\\\)[^\s"'`<>()[\]{},;]*/g;

/** How a read-only dashboard shows one path found in a text (see {@link shownPath}). */
function shownPathIn(found: string, cwd: string): string {
  let path = found;
  if (path.startsWith("file://")) {
    path = path.slice("file://".length);
    try {
      path = decodeURIComponent(path);
    } catch {
      // A malformed escape: the path as written.
    }
    if (/^\/[A-Za-z]:/.test(path)) path = path.slice(1);
  }
  // A Windows path on a POSIX machine: never inside `cwd`, shown by its last part.
  if (sep === "/" && /^(?:[A-Za-z]:|\\\\)/.test(path)) return `…/${win32.basename(path)}`;
  return shownPath(path, cwd);
}

/**
 * A text (a plugin's status message, an error) as a read-only dashboard shows it: each
 * absolute path in it shown as {@link shownPath} shows paths — a user's data file, the
 * engine's data dir or the cache dir become `…/x.csv` (or relative to `cwd` when inside it).
 */
export function scrubPaths(text: string, cwd: string): string {
  return text.replace(ABSOLUTE_PATH, (found) => shownPathIn(found, cwd));
}

/** Every string (and object key) of a JSON value through {@link scrubPaths}; a new value. */
function scrubStrings<T>(value: T, cwd: string): T {
  if (typeof value === "string") return scrubPaths(value, cwd) as T;
  if (Array.isArray(value)) return value.map((item) => scrubStrings(item, cwd)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [scrubPaths(key, cwd), scrubStrings(item, cwd)]),
    ) as T;
  }
  return value;
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
 * remote status, or the archive's paths; and what the plugin wrote (status messages, errors,
 * updates, progress, results) without absolute paths ({@link scrubPaths}).
 */
function publicTask(task: TrainingTask, cwd: string): TrainingTask {
  const {
    input: _input,
    trainPluginInput: _merged,
    trainingParameters: _params,
    remoteStatus: _remote,
    ...rest
  } = task;
  const output = task.output ? { ...task.output, archivePath: undefined } : undefined;
  const checkpoint = task.checkpoint ? { ...task.checkpoint, archivePath: undefined } : undefined;
  return scrubStrings(
    { ...rest, ...(output ? { output } : {}), ...(checkpoint ? { checkpoint } : {}) },
    cwd,
  ) as TrainingTask;
}

/**
 * The task source a read-only dashboard reads: no configs, no task inputs, no paths (those in
 * plugins' messages shown relative to `cwd`, else by their last part).
 */
export function readOnlyTasks(source: TaskSource, cwd: string): TaskSource {
  const shown = (task: TrainingTask) => publicTask(task, cwd);
  return {
    kind: source.kind,
    listInstances: async () => (await source.listInstances()).map(withoutConfig),
    listTasks: async () => (await source.listTasks()).map(shown),
    getTask: async (taskId) => {
      const task = await source.getTask(taskId);
      return task && shown(task);
    },
    subscribe: (listener) =>
      source.subscribe((event) =>
        listener({
          ...event,
          task: shown(event.task),
          ...(event.update ? { update: scrubStrings(event.update, cwd) } : {}),
        }),
      ),
    cancel: async (taskId) => {
      const answer = await source.cancel(taskId);
      return { ...answer, task: shown(answer.task) };
    },
    close: () => source.close(),
  };
}
