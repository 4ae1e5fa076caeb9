export type {
  BullmqEngine,
  BullmqEngineOptions,
  BullmqTrainOptions,
} from "./bullmq-engine-options.js";
export type { BullmqWorker, BullmqWorkerOptions } from "./bullmq-worker-options.js";
export { createBullmqEngine } from "./create-bullmq-engine.js";
export { createBullmqWorker } from "./create-bullmq-worker.js";
export { DEFAULT_PREFIX, DEFAULT_QUEUE } from "./queue-keys.js";
export type { RedisConnection } from "./redis-connection.js";
export type { TaskProgress } from "./task-progress.js";
export { TRAIN_JOB, TrainingJobData } from "./training-job-data.js";
