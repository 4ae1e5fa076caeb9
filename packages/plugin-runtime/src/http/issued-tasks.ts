import { ConflictError, type Id, validateId } from "@trainable/core";
import { checkIssuedTask, type IssuedTaskQuery, notIssued } from "./issued-task-check.js";
import { remoteStatusDigest } from "./issued-task-digest.js";
import { createIssuedTaskRecords, type IssuedTaskRecordsOptions } from "./issued-task-records.js";
import { createKeyedLock } from "./keyed-lock.js";

/** How many `remoteStatusInput` digests are kept per task. */
const MAX_ISSUED_PER_TASK = 16;

/** A training a plugin server started and has not seen end: what its status checks and cancels may name. */
export interface IssuedTask {
  taskId: string;
  /** The plugin instance it trains: checks and cancels must name the same one. */
  instanceId: string;
  /**
   * SHA-256 (hex) of the canonical JSON of each `remoteStatusInput` this server answered for
   * the task, oldest first (the last 16: a client whose answer was lost may send back an
   * older one).
   */
  issued: string[];
  createdAt: string;
  updatedAt: string;
  /**
   * When the server answered the task's end (succeeded, failed or cancelled by the plugin).
   * An ended task is kept (for `endedRetentionMs`, see {@link IssuedTaskRecordsOptions}): a
   * client that lost that answer repeats its status check or train call and gets the same end
   * (the plugin side finds the save it made); cancels are refused.
   */
  endedAt?: string;
}

/** What {@link IssuedTaskTable.issue} records. */
interface IssueOptions {
  taskId: Id;
  instanceId: Id;
  /** The `remoteStatusInput` answered; undefined: only the task's `updatedAt` changes. */
  remoteStatusInput: unknown;
  /**
   * Without a record: make one (a training whose id the plugin side generated). Default
   * false: nothing is recorded (the task was cancelled meanwhile, and stays forgotten).
   */
  create?: boolean;
}

/**
 * The trainings a plugin server started, so `POST /cancelTraining` and status checks act only
 * on those: a task id this server's `POST /train` was given or generated, bound to the plugin
 * instance it trains and to the `remoteStatusInput`s this server answered (as digests). Kept
 * in `{dir}/{taskId}.json` when a folder is given (so a restarted server still accepts the
 * status checks of its trainings), else in memory.
 */
export interface IssuedTaskTable {
  /**
   * The record of `taskId`, if this server started it (an ended one until its retention
   * passes, see {@link IssuedTaskRecordsOptions.endedRetentionMs}).
   */
  get(taskId: string): Promise<IssuedTask | undefined>;
  /** Every record (for tests and diagnostics). */
  list(): Promise<IssuedTask[]>;
  /** Records a training starting. A conflict when the task already has a record. */
  start(taskId: Id, instanceId: Id): Promise<void>;
  /**
   * For a repeated train call (`retry: true`), which continues the task it repeats: checked as
   * {@link check} does when this server has the task; else recorded as {@link start} does —
   * but refused if it carries a `remoteStatusInput` (this server cannot have answered it).
   */
  retry(taskId: Id, instanceId: Id, remoteStatusInput: unknown): Promise<void>;
  /** Records the `remoteStatusInput` answered for the task (see {@link IssueOptions}). */
  issue(options: IssueOptions): Promise<void>;
  /** Forgets a task (it ended, or was cancelled). */
  forget(taskId: Id): Promise<void>;
  /** Marks the task ended (its final answer was given); see {@link IssuedTask.endedAt}. */
  end(taskId: Id): Promise<void>;
  /**
   * Throws `NotFoundError` unless this server started `taskId` for `instanceId` and — when
   * `remoteStatusInput` is given — answered it for that task. `action` is for the message.
   */
  check(query: IssuedTaskQuery & { taskId: Id; instanceId: Id }): Promise<void>;
  /** Resolves once no background prune of the records is running (for tests and shutdown). */
  idle(): Promise<void>;
}

/** Where the records are kept and for how long: see {@link IssuedTaskRecordsOptions}. */
export type IssuedTaskTableOptions = IssuedTaskRecordsOptions;

export function createIssuedTaskTable(options: IssuedTaskTableOptions = {}): IssuedTaskTable {
  const now = options.now ?? (() => new Date());
  const records = createIssuedTaskRecords(options);
  const locked = createKeyedLock();
  const fresh = (taskId: Id, instanceId: Id, at = now().toISOString()): IssuedTask => ({
    taskId,
    instanceId,
    issued: [],
    createdAt: at,
    updatedAt: at,
  });

  return {
    get: (taskId) => records.read(validateId(taskId, "status.taskId")),
    list: () => records.list(),

    start(taskId, instanceId) {
      return locked(taskId, async () => {
        if (await records.read(taskId)) {
          throw new ConflictError(
            `[runtime] Training task "${taskId}" already exists on this server: start a new training without status.taskId, or check this one with isStatusCheck`,
          );
        }
        await records.write(taskId, fresh(taskId, instanceId));
      });
    },

    retry(taskId, instanceId, remoteStatusInput) {
      return locked(taskId, async () => {
        const task = await records.read(taskId);
        if (task) {
          checkIssuedTask(task, { taskId, instanceId, remoteStatusInput, action: "retry" });
          return;
        }
        if (remoteStatusInput !== undefined) notIssued(taskId, "retry");
        await records.write(taskId, fresh(taskId, instanceId));
      });
    },

    issue({ taskId, instanceId, remoteStatusInput, create }) {
      return locked(taskId, async () => {
        const at = now().toISOString();
        const existing = await records.read(taskId);
        if (!existing && create !== true) return;
        const task = existing ?? fresh(taskId, instanceId, at);
        if (remoteStatusInput !== undefined) {
          const digest = remoteStatusDigest(remoteStatusInput);
          task.issued = [...task.issued.filter((d) => d !== digest), digest].slice(
            -MAX_ISSUED_PER_TASK,
          );
        }
        task.updatedAt = at;
        await records.write(taskId, task);
      });
    },

    end(taskId) {
      return locked(taskId, async () => {
        const task = await records.read(taskId);
        if (!task || task.endedAt !== undefined) return;
        task.endedAt = now().toISOString();
        task.updatedAt = task.endedAt;
        await records.write(taskId, task);
      });
    },

    forget: (taskId) => locked(taskId, () => records.remove(taskId)),

    async check(query) {
      checkIssuedTask(await records.read(query.taskId), query);
    },

    idle: () => records.idle(),
  };
}
