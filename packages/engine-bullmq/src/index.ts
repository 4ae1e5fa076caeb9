export {
  type BullmqEngine,
  type BullmqEngineOptions,
  type BullmqTrainOptions,
  createBullmqEngine,
} from "./create-bullmq-engine.js";
export {
  type BullmqWorker,
  type BullmqWorkerOptions,
  createBullmqWorker,
} from "./create-bullmq-worker.js";
export { DEFAULT_PREFIX, DEFAULT_QUEUE } from "./queue-keys.js";
export type { RedisConnection } from "./redis-connection.js";
export type { TaskProgress } from "./task-progress.js";
export { TRAIN_JOB, TrainingJobData } from "./training-job-data.js";
