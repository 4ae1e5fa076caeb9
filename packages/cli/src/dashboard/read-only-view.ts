import { isAbsolute, relative, sep } from "node:path";
import type { EngineInstance, TrainingTask } from "@trainable/plugin-runtime";
import type { TaskSource } from "./task-source.js";

/** The user name of a home directory `path` is or is inside (`/home/NAME`, `C:\Users\NAME`, `/root`, `~NAME`). */
function homeNameOf(segments: string[]): string | undefined {
  const first = segments[0] ?? "";
  if (first.length > 1 && first.startsWith("~")) return first;
  const start = /^[A-Za-z]:$/.test(first) ? 1 : 0;
  if (segments[start] === "root") return "root";
  const at = segments.findIndex((s) => /^(?:home|users)$/i.test(s));
  return at === -1 ? undefined : segments[at + 1];
}

/**
 * A path outside the working directory: only its last part (`…/x.csv`), or `…` when that part
 * is a home directory's user name (`/home/alice`, `/home/alice/docs/alice`).
 */
function lastPartOf(path: string, separators: RegExp): string {
  const segments = path.split(separators).filter((s) => s !== "");
  const last = segments.at(-1);
  const home = homeNameOf(segments);
  if (last === undefined || last === home || last.startsWith("~")) return "…";
  return `…/${last}`;
}

/**
 * A path as a read-only dashboard shows it: relative to `cwd` when inside it, else only its
 * last part — never where the machine's folders are, nor a home directory's user name.
 */
export function shownPath(path: string, cwd: string): string {
  const inside = relative(cwd, path);
  if (inside === "") return ".";
  if (!inside.startsWith("..") && !isAbsolute(inside)) return inside;
  return lastPartOf(path, sep === "/" ? /\/+/ : /[\\/]+/);
}

// Characters that end a path in free text (besides whitespace): quotes, brackets, `,`, `;`, `|`.
const STOP = String.raw`"'\x60<>()[\]{},;|`;
/** A path character. */
const PATH_CH = String.raw`[^\s${STOP}]`;
/** A character of a home directory's user name: a path character but a separator. */
const NAME_CH = String.raw`[^\s${STOP}\\/]`;
/**
 * Where an absolute path may start: the text's start, after a character that cannot be part
 * of a path word or URL (anything but letters, digits, `.`, `_`, `-`, `~`, `:` and `/`), or
 * after `:` when not followed by `//` (a URL's `scheme://`).
 */
const BOUNDARY = String.raw`(?:(?<=^|[^A-Za-z0-9._~:/-])|(?<=:)(?![\\/]{2}))`;
/** A `file://` URL's scheme and host (`file:///…`, `file://localhost/…`, `file://server/…`). */
const FILE_URL = String.raw`file://[^\s${STOP}\\/]*`;
/**
 * A home directory's user name: up to the next separator, spaces included (`John Smith`), when
 * a separator, a stop character, a line break or the end follows; else up to the next space.
 */
const NAME = String.raw`(?:${NAME_CH}+(?: +${NAME_CH}+)*(?=[\\/${STOP}]|[^\S ]|$)|${NAME_CH}+)`;
/** After `/root`: not more of that segment. */
const ROOT_END = String.raw`(?![^\s${STOP}\\/])`;
/** The start of a home directory (`/home/`, `/Users/`, `/root`, `C:\Users\`, `~NAME`). */
const HOME_START = String.raw`(?:(?:${FILE_URL})?(?:\/+(?:home|users)[\\/]|\/+root${ROOT_END}|\/?[A-Za-z]:[\\/]+users[\\/])|~[A-Za-z_])`;
/** A path character that does not start a home directory of its own (`/tmp/x=/home/…`). */
const SAFE_CH = `(?:(?!${BOUNDARY}${HOME_START})${PATH_CH})`;
const TAIL = String.raw`(?:(?!${BOUNDARY}${HOME_START})[\\/]${SAFE_CH}*)?`;

/**
 * An absolute path in free text (see `BOUNDARY`): a home directory and what follows it
 * (`/home/NAME/…`, `/Users/NAME/…`, `/root/…`, `C:\Users\NAME\…`, `C:/Users/NAME/…`,
 * `~NAME/…`, the user name possibly holding spaces), POSIX (`/srv/…`, `//srv/…`), Windows
 * (`C:\…`, `C:/…`, `\\server\…`), each possibly as a `file://` URL (with or without a host);
 * running to the next space, quote, bracket, `,`, `;` or `|`. Not a URL's path
 * (`https://host/path`), a ratio (`3/4`, `MB/s`), a lone `/` or an HTML closing tag (`</b>`).
 */
const ABSOLUTE_PATH = new RegExp(
  String.raw`${BOUNDARY}(?:(?:${FILE_URL})?(?:\/?[A-Za-z]:[\\/]+users[\\/]+${NAME}${TAIL}|\/+(?:home|users)[\\/]+${NAME}${TAIL}|\/+root${ROOT_END}${TAIL}|\/?[A-Za-z]:[\\/]${SAFE_CH}*|\\\\${SAFE_CH}+|(?<!<)\/+(?=[\w.~$%@+])${SAFE_CH}*)|~[A-Za-z_][\w.-]*${TAIL})`,
  "gi",
);

/** How a read-only dashboard shows one path found in a text (see {@link shownPath}). */
function shownPathIn(found: string, cwd: string): string {
  let path = found;
  if (/^file:\/\//i.test(path)) {
    path = path.slice("file://".length).replace(/^[^/\\]*/, "");
    try {
      path = decodeURIComponent(path);
    } catch {
      // A malformed escape: the path as written.
    }
    if (/^\/[A-Za-z]:/.test(path)) path = path.slice(1);
  }
  // A Windows path (or `~NAME`) on a POSIX machine: never inside `cwd`, shown by its last part.
  if (path.startsWith("~") || (sep === "/" && /^(?:[A-Za-z]:|\\\\)/.test(path))) {
    return lastPartOf(path, /[\\/]+/);
  }
  return shownPath(path, cwd);
}

/**
 * A text (a plugin's status message, an error) as a read-only dashboard shows it: each
 * absolute path in it shown as {@link shownPath} shows paths — a user's data file, the
 * engine's data dir or the cache dir become `…/x.csv` (or relative to `cwd` when inside it),
 * a home directory `…`; no home directory's user name shows.
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
