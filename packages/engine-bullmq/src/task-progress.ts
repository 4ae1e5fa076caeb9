import type { PostUpdate } from "@trainable/core";
import type { TaskEvent } from "@trainable/plugin-runtime";

/**
 * A job's progress as the worker reports it (`job.updateProgress`): the task event, task
 * included, relayed to engines through BullMQ's `QueueEvents` as `progress`. Its
 * `task.updates` holds only the latest post-update (the whole history is in the job's record:
 * `engine.getTask`), so the events BullMQ keeps in Redis stay small.
 */
export interface TaskProgress {
  type: TaskEvent["type"];
  taskId: string;
  task: TaskEvent["task"];
  update?: PostUpdate;
}
