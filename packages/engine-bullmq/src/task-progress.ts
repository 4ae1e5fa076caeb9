import type { PostUpdate } from "@trainable/core";
import type { TaskEvent } from "@trainable/plugin-runtime";

/**
 * A job's progress as the worker reports it (`job.updateProgress`): the task event, task
 * included, relayed to engines through BullMQ's `QueueEvents` as `progress`.
 */
export interface TaskProgress {
  type: TaskEvent["type"];
  taskId: string;
  task: TaskEvent["task"];
  update?: PostUpdate;
}
