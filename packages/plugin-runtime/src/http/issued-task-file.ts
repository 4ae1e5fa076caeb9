import { isValidId } from "@trainable/core";
import { z } from "zod";
import { readJsonFile } from "../util/read-json-file.js";
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

/**
 * The record of `taskId` in `file` (`{dir}/{taskId}.json`, or a prune's claim of it);
 * undefined when the file is missing, unreadable, not JSON, or the record of another task.
 */
export async function readIssuedTaskFile(
  file: string,
  taskId: string,
): Promise<IssuedTask | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonFile(file);
  } catch {
    return undefined; // unreadable or not JSON: not a task this server can vouch for
  }
  const parsed = IssuedTaskFile.safeParse(raw);
  if (!parsed.success || parsed.data.taskId !== taskId) return undefined;
  const { version: _version, ...task } = parsed.data;
  return task;
}

/** The task ids of the records among a folder's file names (`{taskId}.json`). */
export function recordIds(names: readonly string[]): string[] {
  return names
    .filter((n) => n.endsWith(".json"))
    .map((n) => n.slice(0, -".json".length))
    .filter(isValidId);
}
