import type { PostUpdate } from "@trainable/core";
import type { TrainingTask } from "./training-task.js";

/**
 * What happens to a task, in order: `created`, `started`, `parameters` (the merged input is
 * known), `update` (a post-update: progress, metrics), `status` (a status check answered
 * `running`), and finally `finished` (`succeeded`, `failed` or `cancelled`).
 * `snapshot` is the first event of `watch()`: the task as it is.
 */
export interface TaskEvent {
  type: "snapshot" | "created" | "started" | "parameters" | "update" | "status" | "finished";
  taskId: string;
  /** A copy of the task after the event. */
  task: TrainingTask;
  /** For `update`: what was posted (checked and normalized). */
  update?: PostUpdate;
}
