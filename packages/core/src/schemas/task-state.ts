import { z } from "zod";

/** Where a task is in its life. `succeeded`, `failed` and `cancelled` are final. */
export const TaskState = z.enum(["waiting", "running", "succeeded", "failed", "cancelled"]);
export type TaskState = z.infer<typeof TaskState>;

export const FINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  "succeeded",
  "failed",
  "cancelled",
]);

export function isFinalTaskState(state: TaskState): boolean {
  return FINAL_TASK_STATES.has(state);
}
