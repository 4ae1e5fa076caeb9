import { EngineInstance, TrainingTask } from "@trainable/plugin-runtime";
import { z } from "zod";

/**
 * What a training job carries in BullMQ (`job.data`): the task's write-ahead record and the
 * instance it trains, as it was when the training was asked (so a worker needs no instance
 * registry). The worker replaces `task` before every effect on the plugin (a fenced write:
 * only while it holds the job's lock), so a worker that recovers a stalled job resumes from
 * exactly what was recorded.
 */
export const TrainingJobData = z.object({
  schemaVersion: z.literal(1),
  task: TrainingTask,
  instance: EngineInstance,
});
export type TrainingJobData = z.infer<typeof TrainingJobData>;

/** The job name of trainings (one job per training task; the job id is the task id). */
export const TRAIN_JOB = "train";
