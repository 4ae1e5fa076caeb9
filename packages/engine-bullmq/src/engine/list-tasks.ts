import type { TaskState } from "@trainable/core";
import type { TrainingTask } from "@trainable/plugin-runtime";
import { taskOf } from "../task-of-job.js";
import { TRAIN_JOB } from "../training-job-data.js";
import type { EngineContext } from "./engine-context.js";

const ALL_STATES = ["waiting", "delayed", "prioritized", "active", "completed", "failed"] as const;

/** `engine.listTasks`: the tasks of every training job in the queue, newest first. */
export async function listTasks(
  context: EngineContext,
  filter: { instanceId?: string; state?: TaskState },
): Promise<TrainingTask[]> {
  const jobs = await context.queue.getJobs([...ALL_STATES]);
  const tasks: TrainingTask[] = [];
  for (const job of jobs) {
    if (job?.name !== TRAIN_JOB) continue;
    try {
      tasks.push(taskOf(job));
    } catch (error) {
      // One bad record (written by another program, a bug) must not hide all the others.
      context.logger.warn(
        `[engine-bullmq] listTasks skipped job "${job.id}": its record is not a training task (${(error as Error).message})`,
      );
    }
  }
  return tasks
    .filter((task) => filter.instanceId === undefined || task.instanceId === filter.instanceId)
    .filter((task) => filter.state === undefined || task.state === filter.state)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
