import { createHash } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, isValidId, NotFoundError, validateId } from "@trainable/core";
import { z } from "zod";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";

/** A training a plugin server started and has not seen end: what its status checks and cancels may name. */
export interface IssuedTask {
  taskId: string;
  /** The plugin instance it trains: checks and cancels must name the same one. */
  instanceId: string;
  /**
   * SHA-256 (hex) of the canonical JSON of each `remoteStatusInput` this server answered for
   * the task, oldest first (the last {@link MAX_ISSUED_PER_TASK}: a client whose answer was
   * lost may send back an older one).
   */
  issued: string[];
  createdAt: string;
  updatedAt: string;
  /**
   * When the server answered the task's end (succeeded, failed or cancelled by the plugin).
   * An ended task is kept: a client that lost that answer repeats its status check or train
   * call and gets the same end (the plugin side finds the save it made); cancels are refused.
   */
  endedAt?: string;
}

const IssuedTaskFile = z.object({
  version: z.literal(1),
  taskId: z.string(),
  instanceId: z.string(),
  issued: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
  createdAt: z.string(),
  updatedAt: z.string(),
  endedAt: z.string().optional(),
});

/** How many `remoteStatusInput` digests are kept per task. */
export const MAX_ISSUED_PER_TASK = 16;
/** How many tasks an in-memory table keeps (oldest dropped first). */
export const DEFAULT_MAX_TASKS = 10_000;

/**
 * The trainings a plugin server started, so `POST /cancelTraining` and status checks act only
 * on those: a task id this server's `POST /train` was given or generated, bound to the plugin
 * instance it trains and to the `remoteStatusInput`s this server answered (as digests). Kept
 * in `{dir}/{taskId}.json` when a folder is given (so a restarted server still accepts the
 * status checks of its trainings), else in memory.
 */
export interface IssuedTaskTable {
  /** The record of `taskId`, if this server started it (and has not seen it end). */
  get(taskId: string): Promise<IssuedTask | undefined>;
  /** Every record (for tests and diagnostics). */
  list(): Promise<IssuedTask[]>;
  /** Records a training starting. A conflict when the task already has a record. */
  start(taskId: string, instanceId: string): Promise<void>;
  /**
   * For a repeated train call (`retry: true`), which continues the task it repeats: checked as
   * {@link check} does when this server has the task; else recorded as {@link start} does —
   * but refused if it carries a `remoteStatusInput` (this server cannot have answered it).
   */
  retry(taskId: string, instanceId: string, remoteStatusInput: unknown): Promise<void>;
  /**
   * Records the `remoteStatusInput` answered for the task. Without a record, `create` makes
   * one (a training whose id the plugin side generated); otherwise nothing is recorded (the
   * task was cancelled meanwhile, and stays forgotten).
   */
  issue(
    taskId: string,
    instanceId: string,
    remoteStatusInput: unknown,
    options?: { create?: boolean },
  ): Promise<void>;
  /** Forgets a task (it ended, or was cancelled). */
  forget(taskId: string): Promise<void>;
  /** Marks the task ended (its final answer was given); see {@link IssuedTask.endedAt}. */
  end(taskId: string): Promise<void>;
  /**
   * Throws `NotFoundError` unless this server started `taskId` for `instanceId` and — when
   * `remoteStatusInput` is given — answered it for that task. `action` is for the message.
   */
  check(
    taskId: string,
    instanceId: string,
    remoteStatusInput: unknown,
    action: "check" | "cancel" | "retry",
  ): Promise<void>;
}

export interface IssuedTaskTableOptions {
  /** Folder of the records; omitted: memory only. */
  dir?: string;
  /** Records kept in memory (without `dir`). Default {@link DEFAULT_MAX_TASKS}. */
  maxTasks?: number;
  now?: () => Date;
}

/** The digest a `remoteStatusInput` is recorded by: SHA-256 of its canonical JSON (sorted keys). */
export function remoteStatusDigest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value), "utf8").digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const VERBS = { check: "check on", cancel: "cancel", retry: "retry" } as const;

function notIssued(taskId: string, action: keyof typeof VERBS): never {
  throw new NotFoundError(
    `[runtime] Training task "${taskId}": this server never answered that status.remoteStatusInput, so it will not ${VERBS[action]} it (send back the status this server answered)`,
  );
}

export function createIssuedTaskTable(options: IssuedTaskTableOptions = {}): IssuedTaskTable {
  const now = options.now ?? (() => new Date());
  const maxTasks = options.maxTasks ?? DEFAULT_MAX_TASKS;
  const dir = options.dir;
  const memory = new Map<string, IssuedTask>();
  const locks = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier update of the same task (read-modify-write safety). */
  function locked<T>(taskId: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(taskId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    locks.set(taskId, settled);
    void settled.then(() => {
      if (locks.get(taskId) === settled) locks.delete(taskId);
    });
    return run;
  }

  const fileOf = (taskId: string) => join(dir as string, `${validateId(taskId, "taskId")}.json`);

  async function read(taskId: string): Promise<IssuedTask | undefined> {
    if (!dir) return memory.get(taskId);
    let raw: unknown;
    try {
      raw = await readJsonFile(fileOf(taskId));
    } catch {
      return undefined; // unreadable or not JSON: not a task this server can vouch for
    }
    const parsed = IssuedTaskFile.safeParse(raw);
    if (!parsed.success || parsed.data.taskId !== taskId) return undefined;
    const { version: _version, ...task } = parsed.data;
    return task;
  }

  async function write(task: IssuedTask): Promise<void> {
    if (!dir) {
      memory.delete(task.taskId);
      memory.set(task.taskId, task);
      while (memory.size > maxTasks) memory.delete(memory.keys().next().value as string);
      return;
    }
    await writeJsonAtomic(fileOf(task.taskId), { version: 1, ...task });
  }

  async function check(
    taskId: string,
    instanceId: string,
    remoteStatusInput: unknown,
    action: "check" | "cancel" | "retry",
  ): Promise<void> {
    const task = await read(taskId);
    if (!task) {
      throw new NotFoundError(
        `[runtime] No training task "${taskId}" to ${VERBS[action]}: this server did not start it, or it is over (a status check or cancel must name a task this server's POST /train started, and send back the status it answered)`,
      );
    }
    if (task.instanceId !== instanceId) {
      throw new NotFoundError(
        `[runtime] No training task "${taskId}" of plugin instance "${instanceId}" to ${VERBS[action]}: this server did not start one`,
      );
    }
    if (
      remoteStatusInput !== undefined &&
      !task.issued.includes(remoteStatusDigest(remoteStatusInput))
    ) {
      notIssued(taskId, action);
    }
    if (task.endedAt !== undefined && action === "cancel") {
      throw new NotFoundError(
        `[runtime] Training task "${taskId}" is over (it ended at ${task.endedAt}): nothing to cancel`,
      );
    }
  }

  return {
    get: (taskId) => read(validateId(taskId, "status.taskId")),

    async list() {
      if (!dir) return [...memory.values()];
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      const tasks = await Promise.all(
        names
          .filter((n) => n.endsWith(".json") && isValidId(n.slice(0, -".json".length)))
          .map((n) => read(n.slice(0, -".json".length))),
      );
      return tasks.filter((t): t is IssuedTask => t !== undefined);
    },

    start(taskId, instanceId) {
      return locked(taskId, async () => {
        if (await read(taskId)) {
          throw new ConflictError(
            `[runtime] Training task "${taskId}" already exists on this server: start a new training without status.taskId, or check this one with isStatusCheck`,
          );
        }
        const at = now().toISOString();
        await write({ taskId, instanceId, issued: [], createdAt: at, updatedAt: at });
      });
    },

    retry(taskId, instanceId, remoteStatusInput) {
      return locked(taskId, async () => {
        if (await read(taskId)) {
          await check(taskId, instanceId, remoteStatusInput, "retry");
          return;
        }
        if (remoteStatusInput !== undefined) notIssued(taskId, "retry");
        const at = now().toISOString();
        await write({ taskId, instanceId, issued: [], createdAt: at, updatedAt: at });
      });
    },

    issue(taskId, instanceId, remoteStatusInput, issueOptions = {}) {
      return locked(taskId, async () => {
        const at = now().toISOString();
        const existing = await read(taskId);
        if (!existing && issueOptions.create !== true) return;
        const task = existing ?? {
          taskId,
          instanceId,
          issued: [],
          createdAt: at,
          updatedAt: at,
        };
        if (remoteStatusInput !== undefined) {
          const digest = remoteStatusDigest(remoteStatusInput);
          task.issued = [...task.issued.filter((d) => d !== digest), digest].slice(
            -MAX_ISSUED_PER_TASK,
          );
        }
        task.updatedAt = at;
        await write(task);
      });
    },

    end(taskId) {
      return locked(taskId, async () => {
        const task = await read(taskId);
        if (!task || task.endedAt !== undefined) return;
        task.endedAt = now().toISOString();
        task.updatedAt = task.endedAt;
        await write(task);
      });
    },

    forget(taskId) {
      return locked(taskId, async () => {
        memory.delete(taskId);
        if (dir) await rm(fileOf(taskId), { force: true });
      });
    },

    check,
  };
}
