import { isFinalTaskState, parseWith } from "@trainable/core";
import { TrainingTask } from "@trainable/plugin-runtime";
import type { Job } from "bullmq";
import { TrainingJobData } from "./training-job-data.js";

/** The task a job stands for: its final return value, else its latest record. */
export function taskOf(job: Job<TrainingJobData, TrainingTask>): TrainingTask {
  const returned = job.returnvalue as TrainingTask | null | undefined;
  if (returned && typeof returned === "object" && isFinalTaskState(returned.state)) {
    return parseWith(TrainingTask, returned, `result of job "${job.id}"`, "engine-bullmq");
  }
  const data = parseWith(TrainingJobData, job.data, `training job "${job.id}"`, "engine-bullmq");
  const task = data.task;
  if (job.finishedOn && job.failedReason && !isFinalTaskState(task.state)) {
    // BullMQ gave up on the job (e.g. it stalled more than maxStalledCount times).
    const at = new Date(job.finishedOn).toISOString();
    return {
      ...task,
      state: "failed",
      phase: "finished",
      finishedAt: at,
      updatedAt: at,
      error: { code: "INTERNAL", message: `[engine-bullmq] The job failed: ${job.failedReason}` },
      statusMessage: `[engine-bullmq] The job failed: ${job.failedReason}`,
    };
  }
  return task;
}
