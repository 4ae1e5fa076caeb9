import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Id, isValidId } from "@trainable/core";
import { z } from "zod";
import { readJsonFile } from "../util/read-json-file.js";
import { writeJsonAtomic } from "../util/write-json-atomic.js";
import type { IssuedTask } from "./issued-tasks.js";

const IssuedTaskFile = z.object({
  version: z.literal(1),
  taskId: z.string(),
  instanceId: z.string(),
  issued: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(64),
  createdAt: z.string(),
  updatedAt: z.string(),
  endedAt: z.string().optional(),
});

/** How many tasks an in-memory table keeps (oldest dropped first). */
const DEFAULT_MAX_TASKS = 10_000;

export interface IssuedTaskRecordsOptions {
  /** Folder of the records (`{dir}/{taskId}.json`); omitted: memory only. */
  dir?: string;
  /** Records kept in memory (without `dir`). Default 10 000. */
  maxTasks?: number;
}

/** Where issued-task records are kept: one JSON file per task, or a bounded map in memory. */
export interface IssuedTaskRecords {
  /** The record of a task; undefined when there is none, or it is unreadable. */
  read(taskId: Id): Promise<IssuedTask | undefined>;
  /** Writes the record of `taskId` (`task.taskId`). */
  write(taskId: Id, task: IssuedTask): Promise<void>;
  list(): Promise<IssuedTask[]>;
  remove(taskId: Id): Promise<void>;
}

export function createIssuedTaskRecords(options: IssuedTaskRecordsOptions): IssuedTaskRecords {
  const { dir } = options;
  const maxTasks = options.maxTasks ?? DEFAULT_MAX_TASKS;
  const memory = new Map<string, IssuedTask>();
  const fileOf = (taskId: Id) => join(dir as string, `${taskId}.json`);

  async function read(taskId: Id): Promise<IssuedTask | undefined> {
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

  return {
    read,
    async write(taskId, task) {
      if (!dir) {
        memory.delete(taskId);
        memory.set(taskId, task);
        while (memory.size > maxTasks) memory.delete(memory.keys().next().value as string);
        return;
      }
      await writeJsonAtomic(fileOf(taskId), { version: 1, ...task });
    },
    async list() {
      if (!dir) return [...memory.values()];
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      const ids = names
        .filter((n) => n.endsWith(".json"))
        .map((n) => n.slice(0, -".json".length))
        .filter(isValidId);
      const tasks = await Promise.all(ids.map(read));
      return tasks.filter((t): t is IssuedTask => t !== undefined);
    },
    async remove(taskId) {
      memory.delete(taskId);
      if (dir) await rm(fileOf(taskId), { force: true });
    },
  };
}
